import ArgumentParser
import Foundation
import SluiceSyntax

/// `--input k=v` (repeatable) and `--input-file case.json`, shared by run and dry-run.
struct InputOptions: ParsableArguments {
    @Option(name: .customLong("input"), help: ArgumentHelp("An input as NAME=VALUE (repeatable).", valueName: "name=value"))
    var inputs: [String] = []

    @Option(name: .customLong("input-file"), help: ArgumentHelp("A JSON object of inputs.", valueName: "file"))
    var inputFile: String?

    @Option(name: .long, help: "The pipeline to run when the file declares several.")
    var pipeline: String?

    /// The inputs as JSON; `--input` wins over the file for the same name.
    func collect() throws -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        if let inputFile {
            let data = try readWholeFile(inputFile, what: "input file")
            let json: JSONValue
            do { json = try JSONValue.parse(bytes: [UInt8](data)) } catch {
                throw UsageError("input file \(inputFile) is not valid JSON: \(error)")
            }
            guard case .object(let members) = json else {
                throw UsageError("input file \(inputFile) must hold a JSON object of inputs, like {\"question\": \"...\"}")
            }
            for member in members { values[member.key] = member.value }
        }
        for pair in inputs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw UsageError("--input needs NAME=VALUE, got \"\(pair)\"")
            }
            values[String(pair[..<eq])] = .string(String(pair[pair.index(after: eq)...]))
        }
        return values
    }
}

/// The bytes of a file, read to its end: regular files, and also pipes, FIFOs and character
/// devices (`--input-file <(...)`, `/dev/stdin`), which report no size and must be streamed.
func readWholeFile(_ path: String, what: String) throws -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw UsageError("cannot read \(what) \(path): no such file")
    }
    guard !isDirectory.boolValue else { throw UsageError("cannot read \(what) \(path): it is a folder") }
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw UsageError("cannot read \(what) \(path) (permission denied?)")
    }
    defer { try? handle.close() }
    do {
        return try handle.readToEnd() ?? Data()
    } catch {
        throw UsageError("cannot read \(what) \(path): \(error.localizedDescription)")
    }
}
