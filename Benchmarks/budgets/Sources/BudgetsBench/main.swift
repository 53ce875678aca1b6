import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices

// One measurement, printed as one JSON line:
//
//   BudgetsBench memory N                          N reserve + settle pairs on the in-memory ledger
//   BudgetsBench sqlite N DB [TASKS [threads]]     the same on the store's ledger at DB, from TASKS concurrent
//                                                  tasks (default 1), or from TASKS threads
//
// Tasks are what the runtime's runs are: the cooperative pool runs as many at once as there are
// cores, and a task blocked in the ledger holds its thread. Threads show what the group commit
// makes of callers that are all waiting at once. The store's lines also give the transactions its
// ledger ran (reserves and settles queued together share one).
//
// Every reservation is checked against a user_day, a pipeline_day and a day limit (loose enough
// never to refuse, so each one does the whole check and write), for one of 50 users, and settled
// at once at a little less than it reserved: the work a model call adds to a run.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("BudgetsBench: \(message)\n".utf8))
    exit(2)
}

struct Measurement: Sendable {
    let ledger: SpendLedger
    let time = Date().timeIntervalSince1970
    let pid = ProcessInfo.processInfo.processIdentifier

    /// The `i`th reservation: one of 50 users, three loose window limits.
    func call(_ i: Int) -> (SpendRequest, [WindowLimit]) {
        let day = WindowKey.utcDay(of: time)
        let user = "user-\(i % 50)"
        let request = SpendRequest(runId: "bench-\(pid)-\(i)", time: time, user: user, session: nil, pipeline: "bench",
                                   dollars: 0.0004, tokens: 1200, leaseSeconds: 600)
        let limits = [
            WindowLimit(key: WindowKey(window: .userDay, subject: user, day: day), dollars: 1e9),
            WindowLimit(key: WindowKey(window: .pipelineDay, subject: "bench", day: day), dollars: 1e9, tokens: Int.max / 2),
            WindowLimit(key: WindowKey(window: .day, subject: "", day: day), dollars: 1e9),
        ]
        return (request, limits)
    }

    /// As the runtime's runs call the ledger: from a task, suspended while the batch waits.
    func reserveAndSettle(_ i: Int) async throws -> Bool {
        let (request, limits) = call(i)
        guard case .reserved(let ticket) = try await ledger.reserve(request, limits: limits) else { return false }
        try await ledger.settle(ticket, dollars: 0.0003, tokens: 900, at: time)
        return true
    }

    /// From a thread of its own, blocked while the batch waits.
    func reserveAndSettleWaiting(_ i: Int) throws -> Bool {
        guard let store = ledger as? SQLiteStore else { fail("threads need the SQLite ledger") }
        let (request, limits) = call(i)
        guard case .reserved(let ticket) = try store.reserveWaiting(request, limits: limits) else { return false }
        try store.settleWaiting(ticket, dollars: 0.0003, tokens: 900, at: time)
        return true
    }

    /// How many of `count` reservations were granted, made from `threads` threads.
    func run(count: Int, threads: Int) throws -> Int {
        let granted = Locked(0), failure = Locked<(any Error)?>(nil)
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    var ok = 0
                    for i in stride(from: t, to: count, by: threads) where try reserveAndSettleWaiting(i) { ok += 1 }
                    granted.withLock { $0 += ok }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }.start()
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        return granted.withLock { $0 }
    }

    /// How many of `count` reservations were granted, made from `tasks` concurrent tasks.
    func run(count: Int, tasks: Int) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<tasks {
                group.addTask {
                    var ok = 0
                    for i in stride(from: t, to: count, by: tasks) where try await reserveAndSettle(i) { ok += 1 }
                    return ok
                }
            }
            return try await group.reduce(0, +)
        }
    }
}

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

let arguments = CommandLine.arguments
let usage = "usage: BudgetsBench memory N | BudgetsBench sqlite N DB [TASKS [threads]]"
guard arguments.count >= 3, let count = Int(arguments[2]), count > 0 else { fail(usage) }
let subject = arguments[1]
let ledger: SpendLedger
let store: SQLiteStore?
switch subject {
case "memory":
    ledger = InMemorySpendLedger()
    store = nil
case "sqlite":
    guard arguments.count >= 4 else { fail("sqlite needs the store's path") }
    do {
        let opened = try SQLiteStore(path: arguments[3])
        (ledger, store) = (opened, opened)
    } catch {
        fail("cannot open \(arguments[3]): \(error)")
    }
default:
    fail("unknown subject \(subject)")
}
var tasks = 1
if subject == "sqlite", arguments.count >= 5 {
    guard let given = Int(arguments[4]), given > 0 else { fail("TASKS must be a positive number, not \(arguments[4])") }
    tasks = given
}
let onThreads = arguments.count >= 6 && arguments[5] == "threads"
if arguments.count >= 6, !onThreads { fail("the fifth argument can only be `threads`, not \(arguments[5]); \(usage)") }

let measurement = Measurement(ledger: ledger)
let started = Date()
let granted: Int
do {
    granted = onThreads ? try measurement.run(count: count, threads: tasks) : try await measurement.run(count: count, tasks: tasks)
} catch {
    fail("\(error)")
}
let seconds = Date().timeIntervalSince(started)
guard granted == count else { fail("\(count - granted) of \(count) reservations were refused") }
let transactions = store?.spendLedgerStatistics.transactions ?? 0
print("{\"subject\": \"\(subject)\", \"tasks\": \(tasks), \"threads\": \(onThreads), \"reservations\": \(count), "
      + "\"seconds\": \(seconds), \"transactions\": \(transactions)}")
