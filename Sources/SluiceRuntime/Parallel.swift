import Foundation

/// What a `parallel` form does when one of its branches fails.
enum ParallelFailurePolicy: String, Sendable, CaseIterable {
    /// The first failure cancels the branches still running and fails the statement.
    case cancel
    /// The other branches run to the end (their calls are paid and traced); then the first
    /// failure fails the statement.
    case finish
}

extension RunContext {
    /// Runs `count` branches, at most `limit` at a time, and returns their results in branch
    /// order. Branches share the run: one budget ledger (every reservation is atomic) and one
    /// trace, each branch a span of its own. A dry run takes the branches one after another,
    /// so that its decisions come in a fixed order.
    func concurrently<T: Sendable>(_ count: Int, limit: Int, onFailure policy: ParallelFailurePolicy, label: String,
                                   _ branch: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        let width = estimate == nil ? max(1, min(limit, count)) : 1
        @Sendable func traced(_ index: Int) async throws -> T {
            try await tracer.span("branch", "\(label) \(index + 1)") { _ in try await branch(index) }
        }
        return try await withThrowingTaskGroup(of: (Int, Result<T, Error>).self) { group in
            var results = [T?](repeating: nil, count: count)
            var firstFailure: Error?
            var next = 0
            func start() {
                let index = next
                next += 1
                group.addTask {
                    do { return (index, .success(try await traced(index))) } catch { return (index, .failure(error)) }
                }
            }
            while next < width { start() }
            while let (index, outcome) = try await group.next() {
                switch outcome {
                case .success(let value):
                    results[index] = value
                case .failure(let error):
                    if firstFailure == nil { firstFailure = error }
                    if policy == .cancel {
                        group.cancelAll()
                        throw error
                    }
                }
                if next < count, policy == .finish || firstFailure == nil { start() }
            }
            if let firstFailure { throw firstFailure }
            return results.compactMap { $0 }
        }
    }
}
