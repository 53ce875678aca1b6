import Foundation
import SluiceSemantics
import SluiceSyntax

/// The repository root and the test fixtures, found from this file's path.
enum Paths {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = tests.appendingPathComponent("Fixtures")
    static let repository = tests.deletingLastPathComponent().deletingLastPathComponent()
}

/// A loader answering `use std.X` from a dictionary and `use "./file"` from a dictionary of
/// paths, falling back to files under `root` on disk (paths are relative to it).
struct TestLoader: ModuleLoader {
    var modules: [String: String] = [:]          // "std.models" → source
    var files: [String: String] = [:]            // normalized path → source
    var root: URL?

    func loadModule(_ path: [String]) -> SourceFile? {
        let name = path.joined(separator: ".")
        guard let text = modules[name] else { return nil }
        return SourceFile(path: path.joined(separator: "/") + ".sluice", text: text)
    }

    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile {
        let directory = (importer.path as NSString).deletingLastPathComponent
        let joined = normalize(directory.isEmpty ? path : directory + "/" + path)
        if let text = files[joined] { return SourceFile(path: joined, text: text) }
        if let root, let data = FileManager.default.contents(atPath: root.appendingPathComponent(joined).path) {
            return SourceFile(path: joined, bytes: Array(data))
        }
        throw TestLoadError(description: "no such file")
    }

    func availableModules() -> [[String]] {
        modules.keys.sorted().map { $0.split(separator: ".").map(String.init) }
    }

    private func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }
}

struct TestLoadError: Error, CustomStringConvertible { var description: String }

/// Small standard-library modules, inline, so the checker's tests do not follow the real stdlib.
enum InlineStd {
    static let models = """
    model gpt_4o_mini {
      provider "openai"
      id "gpt-4o-mini"
      context 128k
      max_output 16_384
      input $0.15 / 1M
      output $0.60 / 1M
      tokenizer "o200k_base"
    }

    model claude_sonnet {
      provider "anthropic"
      context 200k
      input $3.00 / 1M
      output $15.00 / 1M
      tokenizer "estimate"
    }
    """

    static let guards = """
    guard injection {
      pattern ignore r"(?i)\\bignore\\s+previous\\s+instructions\\b"
    }

    guard pii {
      action redact
      pattern email r"[\\w.+-]+@[\\w-]+\\.[\\w.]+"
      pattern ssn r"\\b\\d{3}-\\d{2}-\\d{4}\\b" replace "[SSN]"
    }

    guard leak {
      pattern key r"sk-[A-Za-z0-9]{20,}"
    }
    """

    static let prompts = """
    use std.models.{gpt_4o_mini}

    type Grounded {
      answer: string
      sources: [string]
      confidence: number
    }

    prompt qa(docs: [Doc], question: string) v1 {
      model gpt_4o_mini
      system "Answer from the documents only."
      user "{docs | numbered}\\n{question | fenced}"
      returns Grounded
    }
    """

    static var loader: TestLoader {
        TestLoader(modules: ["std.models": models, "std.guards": guards, "std.prompts": prompts])
    }
}

/// Reads the real standard library from `stdlib/` in the repository.
struct DiskStdLoader: ModuleLoader {
    let root: URL
    func loadModule(_ path: [String]) -> SourceFile? {
        let relative = "stdlib/" + path.joined(separator: "/") + ".sluice"
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(relative).path) else { return nil }
        return SourceFile(path: relative, bytes: Array(data))
    }
    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile {
        let directory = (importer.path as NSString).deletingLastPathComponent
        let relative = directory.isEmpty ? path : directory + "/" + path
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(relative).path) else {
            throw TestLoadError(description: "no such file")
        }
        return SourceFile(path: relative, bytes: Array(data))
    }
}

/// Parses and checks a source text; parse and check diagnostics together.
func checkSource(_ text: String, path: String = "main.sluice", loader: ModuleLoader = InlineStd.loader)
    -> (program: Program, diagnostics: [Diagnostic]) {
    let file = SourceFile(path: path, text: text)
    let parsed = Parser.parse(file)
    let checked = Checker.check(parsed.module, loader: loader)
    return (checked.program, parsed.diagnostics + checked.diagnostics)
}

/// "line:col: message" lines, for compact assertions.
func summary(_ diagnostics: [Diagnostic]) -> [String] {
    diagnostics.map { d in
        let location = d.file.map { f -> String in
            let (line, column) = f.location(of: d.span.start)
            return "\(line):\(column)"
        } ?? "?"
        return "\(location): \(d.message)" + (d.help.map { " [\($0)]" } ?? "")
    }
}
