import ArgumentParser
import Foundation
import SluiceSyntax

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse and check scripts (files or folders) without running them."
    )

    @ArgumentParser.Argument(help: "Scripts, or folders searched for *.sluice files.") var paths: [String]
    @Flag(name: .long, help: "Print diagnostics as JSON.") var json = false

    func run() throws {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw UsageError("no such file or folder: \(path)").exit()
            }
            if isDirectory.boolValue {
                files += Self.scripts(inFolder: path)
            } else {
                files.append(normalizedPath(path))
            }
        }
        var errorCount = 0
        var reports: [JSONValue] = []
        for path in files {
            let diagnostics: [Diagnostic]
            do {
                diagnostics = parseAndCheck(try readSource(path)).1
            } catch {
                errorCount += 1
                if json { reports.append(.object([("file", .string(path)), ("message", .string("\(error)"))])) }
                else { Terminal.error(Terminal.red("error:") + " \(error)") }
                continue
            }
            errorCount += diagnostics.filter { $0.severity == .error }.count
            if json {
                reports += diagnostics.map(diagnosticJSON)
            } else if !diagnostics.isEmpty {
                Terminal.error(DiagnosticRenderer.render(diagnostics, color: Terminal.colorOnStderr))
            }
        }
        if json {
            Terminal.out(JSONValue.object([("files", .number(Double(files.count))), ("errors", .number(Double(errorCount))),
                                           ("diagnostics", .array(reports))]).prettyPrinted())
        } else {
            let summary = "checked \(files.count) file\(files.count == 1 ? "" : "s"): "
                + (errorCount == 0 ? "no errors" : "\(errorCount) error\(errorCount == 1 ? "" : "s")")
            Terminal.error(errorCount == 0 ? Terminal.green(summary) : summary)
        }
        if errorCount > 0 { throw Exit.scriptError }
    }
}

extension CheckCommand {
    /// The `*.sluice` files under `folder`, sorted. Hidden files and folders (`.sluice/`, where the
    /// store lives by default, `.git/`, `.build/`) are not entered, and only regular files are
    /// taken, so a folder whose name ends in `.sluice` is never mistaken for a script.
    static func scripts(inFolder folder: String) -> [String] {
        let manager = FileManager.default
        guard let entries = manager.enumerator(at: URL(fileURLWithPath: folder), includingPropertiesForKeys: [.isRegularFileKey],
                                               options: [.skipsHiddenFiles]) else { return [] }
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        var found: [String] = []
        for case let url as URL in entries {
            guard url.pathExtension == "sluice", (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let full = url.standardizedFileURL.path
            let relative = full.hasPrefix(root + "/") ? String(full.dropFirst(root.count + 1)) : full
            found.append(joinedPath(folder, relative))
        }
        return found.sorted()
    }
}

func diagnosticJSON(_ d: Diagnostic) -> JSONValue {
    var members: [(key: String, value: JSONValue)] = [("severity", .string(d.severity.rawValue)), ("message", .string(d.message))]
    if let file = d.file {
        let (line, column) = file.location(of: d.span.start)
        members += [("file", .string(file.path)), ("line", .number(Double(line))), ("column", .number(Double(column)))]
    }
    if let help = d.help { members.append(("help", .string(help))) }
    return .object(members)
}
