import ArgumentParser
import Foundation
import SluiceSemantics
import SluiceStdlib
import SluiceSyntax

/// Answers `use std.x` from the standard library embedded in the binary, and `use "./f"`
/// from the file system.
struct FileModuleLoader: ModuleLoader {
    func loadModule(_ path: [String]) -> SourceFile? {
        guard let text = StandardLibrary.source(module: path) else { return nil }
        return SourceFile(path: "stdlib/" + path.joined(separator: "/") + ".sluice", text: text)
    }

    func availableModules() -> [[String]] {
        StandardLibrary.modules.map { $0.split(separator: "/").map(String.init) }
    }

    func loadFile(_ path: String, relativeTo importer: SourceFile) throws -> SourceFile {
        let folder = (importer.path as NSString).deletingLastPathComponent
        let full = path.hasPrefix("/") ? path : ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(path)
        return try readSource(full)
    }
}

struct SourceReadError: Error, CustomStringConvertible {
    var description: String
}

/// Reads a script as bytes; a missing, unreadable or non-UTF-8 file is a clear error.
func readSource(_ path: String) throws -> SourceFile {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw SourceReadError(description: "no such file: \(path)")
    }
    guard !isDirectory.boolValue else { throw SourceReadError(description: "\(path) is a folder, not a script") }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw SourceReadError(description: "cannot read \(path) (permission denied?)")
    }
    let bytes = [UInt8](data)
    guard String(validating: bytes, as: UTF8.self) != nil else {
        let offset = firstInvalidUTF8Offset(bytes)
        throw SourceReadError(description: "\(path) is not valid UTF-8 (first bad byte at offset \(offset))")
    }
    return SourceFile(path: path, bytes: bytes)
}

private func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    var offset = 0
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): offset += UTF8.width(scalar)
        case .emptyInput, .error: return offset
        }
    }
}

/// A parsed and checked script, or the diagnostics that stop it.
struct LoadedScript {
    var program: Program
    var warnings: [Diagnostic]
}

/// Parses and checks a script, printing every diagnostic. Throws ExitCode 1 when there are errors.
func loadScript(_ path: String) throws -> LoadedScript {
    let file: SourceFile
    do { file = try readSource(path) } catch {
        Terminal.error(Terminal.red("error:") + " \(error)")
        throw Exit.scriptError
    }
    let (program, diagnostics) = parseAndCheck(file)
    let errors = diagnostics.filter { $0.severity == .error }
    if !diagnostics.isEmpty { Terminal.error(DiagnosticRenderer.render(diagnostics, color: Terminal.colorOnStderr)) }
    if !errors.isEmpty {
        Terminal.error("\(path): \(errors.count) error\(errors.count == 1 ? "" : "s")")
        throw Exit.scriptError
    }
    return LoadedScript(program: program, warnings: diagnostics)
}

func parseAndCheck(_ file: SourceFile) -> (Program, [Diagnostic]) {
    let (module, parseDiagnostics) = Parser.parse(file)
    let (program, checkDiagnostics) = Checker.check(module, loader: FileModuleLoader())
    return (program, parseDiagnostics + checkDiagnostics)
}

/// The pipeline to run: named with --pipeline, or the file's only (or last) pipeline.
func choosePipeline(_ program: Program, named: String?) throws -> String {
    if let named { return named }
    let own = program.main.decls.compactMap { decl -> String? in
        if case .pipeline(let p) = decl { return p.name.text }
        return nil
    }
    guard let last = own.last else {
        throw UsageError("\(program.main.file.path) declares no pipeline")
    }
    if own.count > 1 {
        throw UsageError("\(program.main.file.path) declares several pipelines (\(own.joined(separator: ", "))): choose one with --pipeline")
    }
    return last
}
