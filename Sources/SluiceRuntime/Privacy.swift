import Foundation

/// Text that must not be kept: what a guard redacted, what a `leak` guard blocked, inputs
/// declared `sensitive`. Once a piece of text is known here, every later trace row, session
/// turn and error message of the run carries its replacement instead, and rows written before
/// it was known are scrubbed in the store.
final class Redactions: @unchecked Sendable {
    struct Replacement: Sendable, Hashable {
        var secret: String
        var replacement: String
    }

    private let lock = NSLock()
    private var replacements: [Replacement] = []

    /// Learns secrets; returns the ones not known before.
    @discardableResult
    func add(_ new: [Replacement]) -> [Replacement] {
        lock.withLock {
            // Longer secrets first, so that one containing another is replaced whole.
            let fresh = new.filter { !$0.secret.isEmpty && !replacements.contains($0) }
            replacements = (replacements + fresh).sorted { $0.secret.count > $1.secret.count }
            return fresh
        }
    }

    var isEmpty: Bool { lock.withLock { replacements.isEmpty } }

    func scrub(_ text: String) -> String {
        let known = lock.withLock { replacements }
        guard !known.isEmpty else { return text }
        var out = text
        for r in known where out.contains(r.secret) { out = out.replacingOccurrences(of: r.secret, with: r.replacement) }
        return out
    }

    func scrub(_ json: JSONValue) -> JSONValue {
        isEmpty ? json : json.mappingStrings(scrub)
    }

    func scrub(_ error: RuntimeError) -> RuntimeError {
        guard !isEmpty else { return error }
        var scrubbed = error
        scrubbed.diagnostic.message = scrub(error.diagnostic.message)
        scrubbed.diagnostic.notes = error.diagnostic.notes.map { note in
            var note = note
            note.message = scrub(note.message)
            return note
        }
        return scrubbed
    }
}
