import Dispatch
import Foundation

/// Turns SIGINT, SIGTERM and SIGHUP into cancellation of one task while it runs, so the runtime
/// ends the run itself: the call in flight is recorded as cancelled and the run is closed as
/// `cancelled` before the process exits with 128 + the signal's number (130, 143, 129), as
/// shells report a process a signal stopped. A second signal exits at once, without waiting for
/// the run, once `beforeQuitting` has run (it writes the trace records already queued).
final class SignalCancellation: @unchecked Sendable {
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private let lock = NSLock()
    private var sources: [DispatchSourceSignal] = []
    private var firstSignal: Int32?

    /// Starts cancelling `cancel` on the handled signals, until `stop()`.
    init(beforeQuitting: @escaping @Sendable () -> Void, cancel: @escaping @Sendable () -> Void) {
        for number in Self.handled {
            // The default action would end the process before the run could close its trace.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                let isFirst = lock.withLock {
                    guard firstSignal == nil else { return false }
                    firstSignal = number
                    return true
                }
                guard isFirst else {
                    beforeQuitting()
                    exit(Self.exitStatus(for: number))
                }
                Terminal.error("\(Self.name(of: number)): stopping the run (again to quit at once)")
                cancel()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal that arrived, if any.
    var received: Int32? { lock.withLock { firstSignal } }

    /// Stops handling the signals and gives them back their default action.
    func stop() {
        lock.withLock {
            for source in sources { source.cancel() }
            sources = []
        }
        for number in Self.handled { signal(number, SIG_DFL) }
    }

    static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }

    static func name(of number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }
}
