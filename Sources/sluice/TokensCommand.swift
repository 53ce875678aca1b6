import ArgumentParser
import Foundation
import SluiceStdlib
import SluiceSyntax
import SluiceTokenizers

/// `sluice tokens`: counts the tokens of files or standard input under an encoding, or under the
/// encoding of a model in the standard catalog.
struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Count tokens of files (or standard input) with a model's tokenizer.",
        discussion: """
            cl100k_base and o200k_base are counted exactly (the same ids as OpenAI's tiktoken); `estimate` is the calibrated estimate used for models without a public tokenizer. With --model, the encoding is the model's `tokenizer` in std.models (by name, such as gpt_4o, or by provider id, such as gpt-4o). Without either, o200k_base.

            Output: the count alone for one input; for several files a `COUNT FILE` line each and a `COUNT total` line. --json prints one object: {"encoding", "exact", "tokens"} (tokens is the total), with "model" when --model was given and, for several files, "files": [{"file", "tokens"}, ...]. Exit status 2 for unknown encodings or models, missing files and input that is not UTF-8.
            """
    )

    @Option(name: .long, help: "cl100k_base, o200k_base or estimate (default o200k_base).") var encoding: String?
    @Option(name: .long, help: "A model of the standard catalog (std.models), by name or id.") var model: String?
    @Flag(name: .long, help: "Count special-token text (<|endoftext|> ...) as special tokens, not as text.")
    var allowSpecial = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false
    @ArgumentParser.Argument(help: "Files to count; standard input when none is given.") var files: [String] = []

    func run() throws {
        if encoding != nil && model != nil { throw UsageError("give --encoding or --model, not both").exit() }
        var name = encoding ?? "o200k_base"
        var modelName: String?
        if let model {
            do {
                let found = try Self.catalogEncoding(model)
                name = found.encoding
                modelName = found.name
            } catch let error as UsageError {
                throw error.exit()
            }
        }
        guard ExactTokenCounter.isKnown(name) else {
            let hint = closestMatch(to: name, in: ExactTokenCounter.knownEncodings).map { " (did you mean `\($0)`?)" } ?? ""
            throw UsageError("unknown encoding `\(name)`\(hint); known: \(ExactTokenCounter.knownEncodings.joined(separator: ", "))").exit()
        }
        let exact = ExactTokenCounter.isExact(name)
        let tokenizer: BPETokenizer?
        do {
            tokenizer = exact ? try BPETokenizer.named(name) : nil
        } catch {
            Terminal.error(Terminal.red("error:") + " \(error)")
            throw Exit.scriptError
        }

        // Every input is read and checked before anything is printed.
        var inputs: [(label: String, text: String)] = []
        if files.isEmpty {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            inputs.append(("-", try Self.decode(data, label: "standard input")))
        }
        for path in files {
            if path == "-" {
                inputs.append(("-", try Self.decode(FileHandle.standardInput.readDataToEndOfFile(), label: "standard input")))
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw UsageError("no such file: \(path)").exit()
            }
            guard !isDirectory.boolValue else { throw UsageError("\(path) is a folder, not a file").exit() }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw UsageError("cannot read \(path) (permission denied?)").exit()
            }
            inputs.append((path, try Self.decode(data, label: path)))
        }

        let allowed: Set<String> = allowSpecial ? Set(tokenizer?.specialTokens.keys.map { $0 } ?? []) : []
        let counts = inputs.map { input in
            tokenizer.map { $0.count(input.text, allowedSpecial: allowed) } ?? TokenEstimate.count(input.text)
        }
        let total = counts.reduce(0, +)

        if json {
            var fields: [(String, JSONValue)] = [("encoding", .string(name)), ("exact", .bool(exact))]
            if let modelName { fields.append(("model", .string(modelName))) }
            fields.append(("tokens", .number(Double(total))))
            if inputs.count > 1 {
                fields.append(("files", .array(zip(inputs, counts).map {
                    .object([("file", .string($0.0.label)), ("tokens", .number(Double($0.1)))])
                })))
            }
            Terminal.out(JSONValue.object(fields).serialized())
        } else if inputs.count == 1 {
            Terminal.out("\(total)")
        } else {
            let width = String(total).count
            for (input, count) in zip(inputs, counts) {
                Terminal.out(String(repeating: " ", count: width - String(count).count) + "\(count) \(input.label)")
            }
            Terminal.out("\(total) total")
        }
        if !exact && !json {
            Terminal.error(Terminal.dim("note: `estimate` is a calibrated estimate, not a tokenizer"
                + (modelName.map { " (\($0) has no public tokenizer)" } ?? "")))
        }
    }

    /// The text of `data`, or a usage error naming the first invalid byte.
    static func decode(_ data: Data, label: String) throws -> String {
        let bytes = [UInt8](data)
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput, .error: break loop
            }
        }
        throw UsageError("\(label) is not valid UTF-8 (first bad byte at offset \(offset))").exit()
    }

    /// The `tokenizer` of a model in std.models, looked up by declared name or provider id.
    static func catalogEncoding(_ model: String) throws -> (name: String, encoding: String) {
        guard let source = StandardLibrary.source(module: ["std", "models"]) else {
            throw UsageError("the standard model catalog (std.models) is missing from this build")
        }
        let module = Parser.parse(SourceFile(path: "std/models.sluice", text: source)).module
        var names: [String] = []
        for decl in module.decls {
            guard case .model(let declared) = decl else { continue }
            names.append(declared.name.text)
            var id: String?
            var tokenizer = "estimate"   // ModelSpec's default for a model that names none
            for field in declared.fields {
                guard case .string(let parts) = field.value.kind else { continue }
                let text = parts.map { part -> String in
                    if case .text(let s) = part { return s }
                    return ""
                }.joined()
                if field.name.text == "id" { id = text }
                if field.name.text == "tokenizer" { tokenizer = text }
            }
            if declared.name.text == model || id == model { return (declared.name.text, tokenizer) }
        }
        let hint = closestMatch(to: model, in: names).map { " (did you mean `\($0)`?)" } ?? ""
        throw UsageError("unknown model `\(model)`\(hint); std.models has: \(names.joined(separator: ", "))")
    }
}
