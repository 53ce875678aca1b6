import Foundation
import XCTest

/// What every golden-file harness shares: finding fixtures, the one update rule
/// (`SLUICE_UPDATE_GOLDENS=1` rewrites the goldens instead of comparing), a readable line diff,
/// and one failure per fixture file that names the file, so a loop over fixtures reports them all.
public enum Golden {
    /// Set when the goldens are to be rewritten: `SLUICE_UPDATE_GOLDENS=1 swift test --filter X`.
    public static var updating: Bool { ProcessInfo.processInfo.environment["SLUICE_UPDATE_GOLDENS"] == "1" }

    /// The repository root, from this file's path.
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The files in `folder` whose names end in `.suffix`, sorted by name. No file is a failure:
    /// a harness that finds nothing to test must not pass.
    public static func fixtures(in folder: URL, suffix: String,
                                file: StaticString = #filePath, line: UInt = #line) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let matching = names.filter { $0.hasSuffix("." + suffix) }.sorted()
        if matching.isEmpty { XCTFail("no *.\(suffix) fixtures in \(folder.path)", file: file, line: line) }
        return matching.map { folder.appendingPathComponent($0) }
    }

    /// Runs `body` for each fixture; an error thrown for one fixture is that fixture's failure,
    /// and the others still run.
    public static func forEach(_ fixtures: [URL], file: StaticString = #filePath, line: UInt = #line,
                               _ body: (URL) async throws -> Void) async {
        for fixture in fixtures {
            do { try await body(fixture) } catch {
                XCTFail("\(relativePath(fixture)): \(error)", file: file, line: line)
            }
        }
    }

    /// Synchronous `forEach`.
    public static func forEach(_ fixtures: [URL], file: StaticString = #filePath, line: UInt = #line,
                               _ body: (URL) throws -> Void) {
        for fixture in fixtures {
            do { try body(fixture) } catch {
                XCTFail("\(relativePath(fixture)): \(error)", file: file, line: line)
            }
        }
    }

    /// Compares `actual` with the golden file `golden`, or rewrites it when updating. A
    /// difference is one failure naming `fixture` and the golden, with a line diff.
    public static func check(_ actual: String, against golden: URL, for fixture: URL,
                             file: StaticString = #filePath, line: UInt = #line) {
        if updating {
            do { try actual.write(to: golden, atomically: true, encoding: .utf8) } catch {
                XCTFail("cannot write \(relativePath(golden)): \(error)", file: file, line: line)
            }
            return
        }
        guard let expected = try? String(contentsOf: golden, encoding: .utf8) else {
            XCTFail("\(relativePath(fixture)): missing golden \(relativePath(golden)); run with SLUICE_UPDATE_GOLDENS=1 and review it",
                    file: file, line: line)
            return
        }
        guard actual != expected else { return }
        XCTFail("\(relativePath(fixture)): output differs from \(relativePath(golden)) (- golden, + actual; "
                + "SLUICE_UPDATE_GOLDENS=1 rewrites it):\n" + lineDiff(expected: expected, actual: actual),
                file: file, line: line)
    }

    /// `url` relative to the repository, for messages.
    public static func relativePath(_ url: URL) -> String {
        let path = url.standardizedFileURL.path, root = repository.standardizedFileURL.path + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }

    /// The lines that differ, as hunks of `-` (expected) and `+` (actual) lines with two lines of
    /// context and the line numbers where each hunk starts.
    public static func lineDiff(expected: String, actual: String, context: Int = 2) -> String {
        let old = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let new = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let edits = diff(old, new)
        var hunks: [Range<Int>] = []
        for changed in edits.indices where edits[changed].kind != .same {
            let hunk = max(0, changed - context)..<min(edits.count, changed + context + 1)
            if let last = hunks.last, hunk.lowerBound <= last.upperBound {
                hunks[hunks.count - 1] = last.lowerBound..<max(last.upperBound, hunk.upperBound)
            } else {
                hunks.append(hunk)
            }
        }
        return hunks.map { hunk in
            let first = edits[hunk.lowerBound]
            let lines = edits[hunk].map { edit in
                switch edit.kind {
                case .same: "  " + edit.text
                case .removed: "- " + edit.text
                case .added: "+ " + edit.text
                }
            }
            return (["@@ golden line \(first.oldLine + 1), actual line \(first.newLine + 1) @@"] + lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    struct Edit {
        enum Kind { case same, removed, added }
        var kind: Kind
        var text: String
        /// How many old and new lines come before this one.
        var oldLine: Int
        var newLine: Int
    }

    /// A shortest edit script by longest common subsequence (goldens are small).
    static func diff(_ old: [String], _ new: [String]) -> [Edit] {
        let n = old.count, m = new.count
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = old[i] == new[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var edits: [Edit] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, old[i] == new[j] {
                edits.append(Edit(kind: .same, text: old[i], oldLine: i, newLine: j)); i += 1; j += 1
            } else if i < n, j == m || lcs[i + 1][j] >= lcs[i][j + 1] {
                edits.append(Edit(kind: .removed, text: old[i], oldLine: i, newLine: j)); i += 1
            } else {
                edits.append(Edit(kind: .added, text: new[j], oldLine: i, newLine: j)); j += 1
            }
        }
        return edits
    }
}
