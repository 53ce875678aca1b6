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
    private static let secrets = Locked<Set<String>>([])

    /// Adds a secret to redact from now on (ignored when shorter than 4 characters: too likely to be ordinary text).
    public static func register(secret: String) {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count >= 4 else { return }
        secrets.withLock { _ = $0.insert(trimmed) }
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
        for secret in secrets.current.sorted(by: { $0.count > $1.count }) where occurs(secret, in: result) {
            result = result.replacingOccurrences(of: secret, with: placeholder)
        }
        let mentioned = mentionedWords(result)
        for pattern in patterns where pattern.words.contains(where: { mentioned?.contains($0) ?? true }) {
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

    /// Which of the patterns' words `text` contains, in any case, found with C's `strstr` (fast
    /// even in a debug build); nil for text with a NUL character, which `strstr` cannot search
    /// past, so that every pattern is tried.
    private static func mentionedWords(_ text: String) -> Set<String>? {
        let lowered = text.lowercased()
        return lowered.withCString { cText -> Set<String>? in
            guard strlen(cText) == lowered.utf8.count else { return nil }
            return Set(patterns.flatMap(\.words).filter { word in strstr(cText, word) != nil })
        }
    }

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
