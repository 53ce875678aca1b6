import Foundation

/// Group commit for callers that must wait for their own result (the spend ledger's reserve and
/// settle): each caller queues its operation, and whichever caller finds no batch being applied
/// becomes the leader, takes every operation queued so far (its own included) and applies them as
/// one batch, then hands every caller in the batch its own outcome. Callers that queue while a batch
/// is applied wait for it to end; one of them then leads the next batch. There is no thread and no
/// timer: a lone caller applies its operation at once, and under concurrency the cost of one
/// transaction is shared by everything that queued during the one before it.
final class GroupCommit<Operation, Outcome>: @unchecked Sendable {
    private final class Pending: @unchecked Sendable {
        let operation: Operation
        /// Set by the leader of the batch holding the operation before it wakes the caller; still nil
        /// when the caller is woken to lead the next batch.
        var outcome: Result<Outcome, any Error>?
        /// Each caller is woken on its own (once), so a batch's end wakes only its callers and the
        /// next leader, not every caller waiting. A thread waits on the semaphore; a task suspends
        /// on the continuation, leaving its thread to other work (Swift's pool has one per core).
        private let woken = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var continuation: CheckedContinuation<Void, Never>?
        private var wasWoken = false
        init(_ operation: Operation) { self.operation = operation }

        func wake() {
            let waiting: CheckedContinuation<Void, Never>? = lock.withLock {
                wasWoken = true
                defer { continuation = nil }
                return continuation
            }
            if let waiting { waiting.resume() } else { woken.signal() }
        }

        func wait() { woken.wait() }

        func suspend() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let already = lock.withLock {
                    if !wasWoken { self.continuation = continuation }
                    return wasWoken
                }
                if already { continuation.resume() }
            }
        }
    }

    /// Guards every variable below.
    private let lock = NSLock()
    private var queue: [Pending] = []
    private var applying = false
    private var counts = GroupCommitStatistics()

    var statistics: GroupCommitStatistics { lock.withLock { counts } }

    /// Queues `operation` and returns its outcome once the batch holding it is applied. `apply`
    /// gets a batch in queue order and returns one outcome per operation, or throws to fail them all
    /// with its error. Every caller of one `GroupCommit` must pass the same `apply`: the leader
    /// applies other callers' operations with its own.
    func submit(_ operation: Operation, applying apply: ([Operation]) throws -> [Outcome]) throws -> Outcome {
        let (pending, waits) = enqueue(operation)
        if waits { pending.wait() }
        return try outcome(of: pending, apply)
    }

    /// `submit` for a task: while its batch waits for the one being applied, the task is suspended
    /// rather than holding its thread, so other runs go on and queue behind it, and the next
    /// transaction carries all of them. A task that leads applies the batch on its own thread.
    func submit(_ operation: Operation, applying apply: ([Operation]) throws -> [Outcome]) async throws -> Outcome {
        let (pending, waits) = enqueue(operation)
        if waits { await pending.suspend() }
        return try outcome(of: pending, apply)
    }

    /// The outcome the batch holding `pending` gave it, leading that batch first when woken to lead.
    private func outcome(of pending: Pending, _ apply: ([Operation]) throws -> [Outcome]) throws -> Outcome {
        if pending.outcome == nil { lead(pending, apply) }
        guard let outcome = pending.outcome else { preconditionFailure("a group commit's batch gave its leader no outcome") }
        return try outcome.get()
    }

    private func enqueue(_ operation: Operation) -> (Pending, waits: Bool) {
        let pending = Pending(operation)
        let waits: Bool = lock.withLock {
            queue.append(pending)
            defer { applying = true }
            return applying
        }
        return (pending, waits)
    }

    /// Applies everything queued (`leader`'s operation first), then wakes the batch's callers and
    /// hands the lead to the first caller queued meanwhile, if any.
    private func lead(_ leader: Pending, _ apply: ([Operation]) throws -> [Outcome]) {
        let batch: [Pending] = lock.withLock {
            defer { queue = [] }
            counts.transactions += 1
            counts.operations += queue.count
            return queue
        }
        switch Result(catching: { try apply(batch.map(\.operation)) }) {
        case .success(let outcomes):
            precondition(outcomes.count == batch.count, "a group commit's batch of \(batch.count) got \(outcomes.count) outcomes")
            for (entry, outcome) in zip(batch, outcomes) { entry.outcome = .success(outcome) }
        case .failure(let error):
            for entry in batch { entry.outcome = .failure(error) }
        }
        let next: Pending? = lock.withLock {
            if queue.isEmpty { applying = false }
            return queue.first
        }
        for entry in batch where entry !== leader { entry.wake() }
        next?.wake()
    }
}

/// How many transactions a group commit attempted and how many operations they held (failed ones
/// included): operations per transaction is how much concurrency it turned into batching.
public struct GroupCommitStatistics: Sendable, Equatable {
    public var transactions = 0
    public var operations = 0
}
