#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SluiceRuntime

/// Keeps keys out of everything Sluice writes: error messages, trace rows, record files. Every
/// key a provider reads from the environment is registered here for the life of the process,
/// and `redact` replaces those, and anything that looks like a key (`sk-…`, `Bearer …`,
/// `x-api-key: …`, `"api_key": "…"`), with `[redacted]`. Text quoted from a server is redacted
/// before it is cut to a snippet, so no part of a key survives the cut.
public enum Redaction {
    public static let placeholder = "[redacted]"
    /// The registered secrets, longest first (so a key containing another is replaced whole).
    /// Every model call registers its key again, so registering a known one is a lookup.
    private static let secrets = Locked<(known: Set<String>, longestFirst: [String])>(([], []))

    /// Adds a secret to redact from now on (ignored when shorter than 4 characters: too likely to be ordinary text).
    public static func register(secret: String) {
        if secrets.withLock({ $0.known.contains(secret) }) { return }
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count >= 4 else { return }
        secrets.withLock { secrets in
            secrets.known.insert(secret)
            guard !secrets.longestFirst.contains(trimmed) else { return }
            secrets.longestFirst.append(trimmed)
            secrets.longestFirst.sort { $0.count > $1.count }
        }
    }

    /// Key-like text patterns, what they become (the part before the secret is kept), and words
    /// one of which the text must contain (ASCII, any case) for the pattern to be tried: most text
    /// has none, and skips the regular expressions.
    private static let patterns: [(regex: NSRegularExpression, template: String, words: [String])] = [
        // OpenAI (`sk-`, `sk-proj-`), Anthropic (`sk-ant-`) and similar keys.
        (#"\bsk-[A-Za-z0-9_\-]{6,}"#, placeholder, ["sk-"]),
        (#"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{6,}"#, "$1" + placeholder, ["bearer"]),
        // A header or field naming a key: `x-api-key: ...`, `"api_key": "..."`, `api-key=...`, `authorization: ...`.
        (#"(?i)((?:x-api-key|api[_-]?key|access[_-]?token|authorization)["']?\s*[:=]\s*["']?(?>(?:bearer\s+)?))(?!\[redacted)[^\s"',;&}\]]{4,}"#,
         "$1" + placeholder, ["key", "token", "authorization"]),
    ].map { (try! NSRegularExpression(pattern: $0.0), $0.1, $0.2) }

    /// `text` with every registered secret and every key-like string replaced.
    public static func redact(_ text: String) -> String {
        var result = text
        for secret in secrets.withLock({ $0.longestFirst }) where occurs(secret, in: result) {
            result = result.replacingOccurrences(of: secret, with: placeholder)
        }
        let mentioned = mentionedWords(result)
        for pattern in patterns where pattern.words.contains(where: mentioned.contains) {
            let range = NSRange(result.startIndex..., in: result)
            result = pattern.regex.stringByReplacingMatches(in: result, range: range, withTemplate: pattern.template)
        }
        return result
    }

    /// Whether `secret` occurs in `text` (with `strstr`, or Foundation for text with a NUL character).
    private static func occurs(_ secret: String, in text: String) -> Bool {
        text.withCString { cText in
            strlen(cText) == text.utf8.count ? strstr(cText, secret) != nil : text.contains(secret)
        }
    }

    /// Which of the patterns' words `text` contains, in any case (the words are ASCII), read from
    /// its UTF-8 bytes without a lowered copy. ORing 0x20 lowers ASCII letters; it may also match
    /// a few other bytes, which only means a pattern is tried that finds nothing.
    private static func mentionedWords(_ text: String) -> Set<String> {
        var found: Set<String> = []
        var text = text
        text.withUTF8 { bytes in
            for word in patternWords {
                let needle = Array(word.utf8)
                guard bytes.count >= needle.count else { continue }
                var start = 0
                search: while start <= bytes.count - needle.count {
                    if bytes[start] | 0x20 == needle[0] {
                        var offset = 1
                        while offset < needle.count, bytes[start + offset] | 0x20 == needle[offset] { offset += 1 }
                        if offset == needle.count { found.insert(word); break search }
                    }
                    start += 1
                }
            }
        }
        return found
    }

    private static let patternWords = Array(Set(patterns.flatMap(\.words)))

    /// Every string in a JSON value redacted (in its decoded text, so JSON escapes cannot hide a key).
    public static func redact(_ json: JSONValue) -> JSONValue { json.mappingStrings(redact) }

    public static func redact(_ error: ProviderError) -> ProviderError {
        var copy = error
        copy.message = redact(error.message)
        copy.attempts = redact(error.attempts)
        return copy
    }

    public static func redact(_ attempts: [ProviderAttempt]) -> [ProviderAttempt] {
        attempts.map { attempt in
            var attempt = attempt
            attempt.error = redact(attempt.error)
            return attempt
        }
    }
}
