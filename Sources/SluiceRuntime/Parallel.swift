import Foundation
import SluiceSemantics
import SluiceSyntax

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
    func concurrently<T: Sendable>(_ count: Int, limit: Int, onFailure policy: ParallelFailurePolicy,
                                   name: @escaping @Sendable (Int) -> String,
                                   _ branch: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        guard count > 0 else { return [] }
        let width = min(count, estimate == nil ? max(1, limit) : 1)
        @Sendable func traced(_ index: Int) async throws -> T {
            try await tracer.span("branch", name(index)) { _ in try await branch(index) }
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

extension RunContext {
    /// The branch limit and failure policy a `parallel` form declares.
    func parallelSettings(_ settings: ParallelSettings, branches: Int, _ frame: inout Frame) async throws -> (Int, ParallelFailurePolicy) {
        var limit = max(1, branches)
        if let expr = settings.limit {
            guard case .number(let n) = try await eval(expr, &frame), let whole = exactInt(n), whole >= 1 else {
                throw RuntimeError(.script, "`limit` needs a whole number of at least 1", file: frame.file, span: expr.span)
            }
            limit = whole
        }
        let policy = settings.onFailure.flatMap { ParallelFailurePolicy(rawValue: $0.text) } ?? .cancel
        return (limit, policy)
    }

    /// `parallel { ... }`: every statement of the block a branch, each on its own copy of the
    /// frame; afterwards the names each branch bound hold what it bound (the checker makes sure
    /// no branch reads or binds what another binds).
    func runParallel(_ settings: ParallelSettings, _ body: Block, _ frame: inout Frame) async throws {
        let (limit, policy) = try await parallelSettings(settings, branches: body.statements.count, &frame)
        let start = frame
        let line = frame.file.location(of: body.span.start).line
        let frames = try await tracer.span("parallel", "line \(line)") { detail in
            detail["branches"] = .number(Double(body.statements.count))
            detail["limit"] = .number(Double(limit))
            let file = start.file, statements = body.statements
            // A branch is named by its first line: `docs = retrieve question from kb top 5`.
            let names: @Sendable (Int) -> String = { index in
                String(file.slice(statements[index].span).prefix { $0 != "\n" }.prefix(60))
            }
            return try await concurrently(body.statements.count, limit: limit, onFailure: policy, name: names) { index in
                var branch = start
                _ = try await self.execute(body.statements[index], &branch)
                return branch
            }
        }
        for (statement, branch) in zip(body.statements, frames) {
            guard let bound = branchSlots(of: statement, in: frame.file) else {
                throw unresolvedLocal("the branch `\(frame.file.slice(statement.span).prefix { $0 != "\n" })`", statement.span, frame.file)
            }
            for slot in bound where frame.slots.indices.contains(slot) { frame.slots[slot] = branch.slots[slot] }
        }
    }

    /// `parallel EXPR for NAME in LIST`: EXPR for each item, at most `limit` at a time.
    func runParallelMap(_ body: Expr, _ variable: Name, _ sequence: Expr, _ settings: ParallelSettings,
                        _ frame: inout Frame) async throws -> Value {
        let items = try await listItems(sequence, what: "`parallel ... for`", &frame)
        let (limit, policy) = try await parallelSettings(settings, branches: items.count, &frame)
        let start = frame
        let slot = try slot(of: variable, frame)
        let callsBefore = estimate?.callCount ?? 0
        let results = try await tracer.span("parallel", "\(variable.text) in \(frame.file.slice(sequence.span))") { detail in
            detail["items"] = .number(Double(items.count))
            detail["limit"] = .number(Double(limit))
            let variableName = variable.text
            return try await concurrently(items.count, limit: limit, onFailure: policy, name: { "\(variableName) #\($0 + 1)" }) { index in
                var branch = start
                branch.slots[slot] = items[index]
                return try await self.eval(body, &branch)
            }
        }
        if let estimate {
            estimate.loopSeen(line: frame.file.location(of: sequence.span.start).line, items: items.count,
                              callsInside: estimate.callCount - callsBefore)
        }
        return try nested(.list(results), body, frame)
    }
}
