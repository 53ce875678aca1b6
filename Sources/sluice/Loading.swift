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
        return try readSource(path.hasPrefix("/") ? normalizedPath(path) : joinedPath(folder, path))
    }
}

/// Why a script could not be read. A path that names no readable file is the caller's mistake
/// (exit 2); bytes that are not UTF-8 are the script's (exit 1).
struct SourceReadError: Error, CustomStringConvertible {
    var description: String
    var isUsage = true
}

/// `path` with `.` components and repeated slashes removed and `x/..` folded, lexically (no
/// symlinks are resolved), so that printed paths never read `././f.sluice`. Empty becomes `.`.
func normalizedPath(_ path: String) -> String {
    let absolute = path.hasPrefix("/")
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
        if part == "..", absolute { continue }
        parts.append(part)
    }
    let joined = parts.joined(separator: "/")
    return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
}

/// `relative` inside `folder`, normalized (`.` + `./a.sluice` is `a.sluice`).
func joinedPath(_ folder: String, _ relative: String) -> String {
    relative.hasPrefix("/") ? normalizedPath(relative) : normalizedPath(folder.isEmpty ? relative : folder + "/" + relative)
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
        throw SourceReadError(description: "\(path) is not valid UTF-8 (first bad byte at offset \(offset))", isUsage: false)
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

/// Parses and checks a script, printing every diagnostic. Throws ExitCode 1 when there are errors,
/// 2 when `path` names no readable file.
func loadScript(_ path: String) throws -> LoadedScript {
    let file: SourceFile
    do { file = try readSource(path) } catch let error as SourceReadError {
        Terminal.error(Terminal.red("error:") + " \(error)")
        throw error.isUsage ? Exit.usage : Exit.scriptError
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

/// The pipeline to run: named with --pipeline, or the file's only pipeline.
func choosePipeline(_ program: Program, named: String?) throws -> String {
    let own = program.main.decls.compactMap { decl -> String? in
        if case .pipeline(let p) = decl { return p.name.text }
        return nil
    }
    if let named {
        guard program.pipelines[named] != nil else {
            let known = program.pipelines.keys.sorted()
            let hint = closestMatch(to: named, in: known).map { " (did you mean `\($0)`?)" } ?? ""
            throw UsageError("\(program.main.file.path) has no pipeline `\(named)`\(hint)"
                             + (known.isEmpty ? "" : "; it has: " + known.joined(separator: ", ")))
        }
        return named
    }
    guard let last = own.last else {
        throw UsageError("\(program.main.file.path) declares no pipeline")
    }
    if own.count > 1 {
        throw UsageError("\(program.main.file.path) declares several pipelines (\(own.joined(separator: ", "))): choose one with --pipeline")
    }
    return last
}

/// Checks inputs against the pipeline's declared parameters before anything runs: an input the
/// pipeline does not declare is a usage error with the closest name, and so is a required one left
/// out (one with no default whose type is not optional) unless `allowMissing` (a dry run estimates
/// those as empty).
func checkInputs(_ inputs: [String: JSONValue], for pipeline: String, in program: Program, allowMissing: Bool) throws {
    guard let declared = program.pipelines[pipeline]?.decl else { return }
    let names = declared.params.map(\.name.text)
    let listed = names.isEmpty ? "it takes no inputs" : "its inputs are: " + names.joined(separator: ", ")
    for key in inputs.keys.sorted() where !names.contains(key) {
        let hint = closestMatch(to: key, in: names).map { " (did you mean `\($0)`?)" } ?? ""
        throw UsageError("pipeline `\(pipeline)` has no input `\(key)`\(hint); \(listed)")
    }
    guard !allowMissing else { return }
    let missing = declared.params.filter { param in
        guard inputs[param.name.text] == nil, param.defaultValue == nil else { return false }
        if let type = param.type, case .optional = program.resolve(type) { return false }
        return true
    }
    guard !missing.isEmpty else { return }
    let described = missing.map { param in "`\(param.name.text)`" + (param.type.map { " (\(program.resolve($0)))" } ?? "") }
    throw UsageError("pipeline `\(pipeline)` needs input\(missing.count == 1 ? "" : "s") \(described.joined(separator: ", ")): pass "
                     + missing.map { "--input \($0.name.text)=..." }.joined(separator: " ") + " or put \(missing.count == 1 ? "it" : "them") in --input-file")
}
