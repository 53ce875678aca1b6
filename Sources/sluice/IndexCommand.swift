import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceServices
import SluiceSyntax

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build, list, rebuild and remove retrieval indexes (SQLite FTS5, ranked with BM25).",
        subcommands: [Add.self, List.self, Rebuild.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Chunk files (folders recursively) into an index; re-adding a file replaces it.")
        @ArgumentParser.Argument(help: "The index name.") var name: String
        @ArgumentParser.Argument(help: "Files or folders (.md, .txt, .markdown, .rst, .html).") var paths: [String]
        @OptionGroup var chunking: ChunkOptions
        @OptionGroup var store: StoreOptions

        func validate() throws { try chunking.check() }

        func run() throws {
            if let missing = paths.first(where: { !FileManager.default.fileExists(atPath: $0) }) {
                throw UsageError("no such file or folder: \(missing)").exit()
            }
            do {
                let sqlite = try openStore(store.path)
                // An existing index keeps its chunk settings unless they are given.
                let existing = try sqlite.listIndexes().first { $0.name == name }
                let chunk = chunking.chunk ?? existing?.chunkTokens ?? IndexSpec(name: name, source: nil).chunkTokens
                let overlap = chunking.overlap ?? existing?.overlapTokens ?? min(IndexSpec(name: name, source: nil).overlapTokens, chunk - 1)
                let added = try sqlite.addDocuments(index: name, paths: paths, chunkTokens: chunk, overlapTokens: overlap,
                                                    counter: defaultTokenCounter())
                Terminal.out("indexed \(added.files) file\(added.files == 1 ? "" : "s") into \(added.chunks) chunks in `\(name)`")
            } catch let error as UsageError { throw error.exit() } catch {
                Terminal.error(Terminal.red("error:") + " \(error)")
                throw Exit.scriptError
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Indexes in the store with their sizes.")
        @OptionGroup var store: StoreOptions
        @Flag(name: .long, help: "Print as JSON.") var json = false

        func run() throws {
            let indexes: [IndexSummary]
            do { indexes = try openStore(store.path).listIndexes() } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("\(error)").exit()
            }
            if json {
                Terminal.out(JSONValue.array(indexes.map { index in
                    .object([("name", .string(index.name)), ("files", .number(Double(index.files))), ("chunks", .number(Double(index.chunks))),
                             ("source", index.source.map(JSONValue.string) ?? .null),
                             ("chunk", index.chunkTokens.map { .number(Double($0)) } ?? .null),
                             ("overlap", index.overlapTokens.map { .number(Double($0)) } ?? .null)])
                }).prettyPrinted())
            } else if indexes.isEmpty {
                Terminal.out("no indexes in \(store.path) yet: build one with `sluice index add NAME FILES...`")
            } else {
                for index in indexes {
                    var line = "\(index.name)  \(index.files) files  \(index.chunks) chunks"
                    if let chunk = index.chunkTokens, let overlap = index.overlapTokens { line += "  chunk \(chunk) overlap \(overlap)" }
                    line += index.source.map { "  from \($0)" } ?? "  (files added by hand)"
                    Terminal.out(line)
                }
            }
        }
    }

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Chunk every file of an index again: from its script's source as it is now, or from the files it holds.")
        @ArgumentParser.Argument(help: "The index name.") var name: String
        @OptionGroup var chunking: ChunkOptions
        @OptionGroup var store: StoreOptions

        func validate() throws { try chunking.check() }

        func run() throws {
            do {
                let sqlite = try openStore(store.path)
                try requireIndex(name, in: sqlite)
                let changes = try sqlite.rebuildIndex(name: name, chunkTokens: chunking.chunk, overlapTokens: chunking.overlap,
                                                      counter: defaultTokenCounter())
                var line = "rebuilt `\(name)`: \(changes.files) file\(changes.files == 1 ? "" : "s") into \(changes.chunks) chunks"
                if changes.removed > 0 { line += ", \(changes.removed) missing file\(changes.removed == 1 ? "" : "s") dropped" }
                Terminal.out(line)
            } catch let error as UsageError { throw error.exit() } catch {
                Terminal.error(Terminal.red("error:") + " \(error)")
                throw Exit.scriptError
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an index with its documents and chunks.")
        @ArgumentParser.Argument(help: "The index name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            do {
                let sqlite = try openStore(store.path)
                try requireIndex(name, in: sqlite)
                try sqlite.removeIndex(name: name)
                Terminal.out("removed `\(name)`")
            } catch let error as UsageError { throw error.exit() } catch {
                throw UsageError("\(error)").exit()
            }
        }
    }
}

/// A usage error naming the indexes there are, with the closest name, when `name` is not one of them.
func requireIndex(_ name: String, in store: any Store) throws {
    let names = try store.listIndexes().map(\.name)
    guard !names.contains(name) else { return }
    let hint = closestMatch(to: name, in: names).map { " (did you mean `\($0)`?)" } ?? ""
    throw UsageError("there is no index named `\(name)` in \(store.path)\(hint)"
                     + (names.isEmpty ? "" : "; it has: " + names.joined(separator: ", ")))
}

/// `--chunk` and `--overlap`, in tokens; when left out, the index's own settings (or 256 and 32).
struct ChunkOptions: ParsableArguments {
    @Option(name: .long, help: "Chunk size in tokens (default: the index's own, or 256).") var chunk: Int?
    @Option(name: .long, help: "Overlap between chunks in tokens (default: the index's own, or 32).") var overlap: Int?

    func check() throws {
        if let chunk, chunk <= 0 { throw ValidationError("--chunk must be positive") }
        if let overlap, overlap < 0 || overlap >= (chunk ?? Int.max) { throw ValidationError("--overlap must be at least 0 and less than --chunk") }
    }
}
