import ArgumentParser
import Foundation
import SluiceServices
import SluiceViewer

/// `sluice traces serve`: the trace viewer in a browser, on this machine only.
struct TracesServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "A local web viewer of the traces: runs, span waterfalls, model calls, cost and latency charts.",
        discussion: """
            Serves on http://127.0.0.1:PORT only, reading the store without writing to it. Ctrl-C stops it.
            """
    )
    @OptionGroup var store: StoreOptions
    @Option(name: .long, help: "The port on 127.0.0.1 to serve on (0: any free port, printed at start).") var port = 8484

    func run() async throws {
        guard (0...65_535).contains(port) else { throw UsageError("--port \(port) is not a port (0 to 65535)").exit() }
        let sqlite: SQLiteStore?
        do { sqlite = try openStoreForReading(store.path) } catch let error as UsageError { throw error.exit() }
        guard let sqlite else {
            throw UsageError("there is no store at \(store.path): run a pipeline first (`sluice run`), or name the store with --db").exit()
        }
        let path = store.path
        do {
            try await ViewerServer.serve(store: sqlite, port: port) { bound in
                Terminal.out("sluice traces serve: viewing \(path) at http://\(ViewerServer.host):\(bound)/ (Ctrl-C to stop)")
            }
        } catch let error as ViewerServerError {
            throw UsageError("\(error)").exit()
        }
        Terminal.error("sluice traces serve: stopped")
    }
}
