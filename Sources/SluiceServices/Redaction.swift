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

    /// Key-like text patterns and what they become: the part before the secret is kept.
    private static let patterns: [(NSRegularExpression, String)] = [
        // OpenAI (`sk-`, `sk-proj-`), Anthropic (`sk-ant-`) and similar keys.
        (#"\bsk-[A-Za-z0-9_\-]{6,}"#, placeholder),
        (#"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{6,}"#, "$1" + placeholder),
        // A header or field naming a key: `x-api-key: ...`, `"api_key": "..."`, `api-key=...`, `authorization: ...`.
        (#"(?i)((?:x-api-key|api[_-]?key|access[_-]?token|authorization)["']?\s*[:=]\s*["']?(?>(?:bearer\s+)?))(?!\[redacted)[^\s"',;&}\]]{4,}"#,
         "$1" + placeholder),
    ].map { (try! NSRegularExpression(pattern: $0.0), $0.1) }

    /// `text` with every registered secret and every key-like string replaced.
    public static func redact(_ text: String) -> String {
        var result = text
        for secret in secrets.current.sorted(by: { $0.count > $1.count }) where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: placeholder)
        }
        for (pattern, template) in patterns {
            let range = NSRange(result.startIndex..., in: result)
            guard pattern.firstMatch(in: result, range: range) != nil else { continue }
            result = pattern.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return result
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
