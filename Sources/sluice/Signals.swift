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
    /// Dropped by `stop()`: a cancelled source lets its handler go only later, on its queue, and what
    /// the actions hold (the trace writer, the store) must close with the command, not after.
    private var actions: (cancel: @Sendable () -> Void, beforeQuitting: @Sendable () -> Void)?

    /// Starts cancelling `cancel` on the handled signals, until `stop()`.
    init(beforeQuitting: @escaping @Sendable () -> Void, cancel: @escaping @Sendable () -> Void) {
        actions = (cancel, beforeQuitting)
        for number in Self.handled {
            // The default action would end the process before the run could close its trace.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                let (isFirst, actions) = lock.withLock {
                    defer { if firstSignal == nil { firstSignal = number } }
                    return (firstSignal == nil, self.actions)
                }
                guard let actions else { return }
                guard isFirst else {
                    actions.beforeQuitting()
                    exit(Self.exitStatus(for: number))
                }
                Terminal.error("\(Self.name(of: number)): stopping the run (again to quit at once)")
                actions.cancel()
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
            actions = nil
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
