import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceServices

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build and list retrieval indexes (SQLite FTS5, ranked with BM25).",
        subcommands: [Add.self, List.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Chunk files (folders recursively) into an index; re-adding a file replaces it.")
        @ArgumentParser.Argument(help: "The index name.") var name: String
        @ArgumentParser.Argument(help: "Files or folders (.md, .txt, .markdown, .rst, .html).") var paths: [String]
        @Option(name: .long, help: "Chunk size in tokens.") var chunk = 256
        @Option(name: .long, help: "Overlap between chunks in tokens.") var overlap = 32
        @OptionGroup var store: StoreOptions

        func validate() throws {
            guard chunk > 0 else { throw ValidationError("--chunk must be positive") }
            guard overlap >= 0, overlap < chunk else { throw ValidationError("--overlap must be at least 0 and less than --chunk") }
        }

        func run() throws {
            do {
                let added = try openStore(store.path).addDocuments(index: name, paths: paths, chunkTokens: chunk, overlapTokens: overlap,
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
                Terminal.out(JSONValue.array(indexes.map { .object([("name", .string($0.name)), ("files", .number(Double($0.files))),
                                                                     ("chunks", .number(Double($0.chunks)))]) }).prettyPrinted())
            } else if indexes.isEmpty {
                Terminal.out("no indexes in \(store.path) yet: build one with `sluice index add NAME FILES...`")
            } else {
                for index in indexes { Terminal.out("\(index.name)  \(index.files) files  \(index.chunks) chunks") }
            }
        }
    }
}
