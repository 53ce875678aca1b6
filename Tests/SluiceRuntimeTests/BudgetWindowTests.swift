import Foundation
import SluiceSemantics
import XCTest
@testable import SluiceRuntime

/// Budgets over windows of runs (`user_day`, `pipeline_day`, `day`, `session`) kept by the spend
/// ledger, overruns, and the cost of cached and cache-written tokens.
final class BudgetWindowTests: XCTestCase {
    /// Answers every call with the same usage, whatever it was asked for.
    final class FixedUsageProvider: ModelProvider, @unchecked Sendable {
        let input: Int, output: Int, cached: Int, cacheWritten: Int
        init(input: Int, output: Int, cached: Int = 0, cacheWritten: Int = 0) {
            self.input = input; self.output = output; self.cached = cached; self.cacheWritten = cacheWritten
        }
        func complete(_ request: ChatRequest) async throws -> ChatResponse {
            ChatResponse(text: "ok", model: request.model.id, inputTokens: input, outputTokens: output, cachedTokens: cached,
                         cacheWriteTokens: cacheWritten)
        }
    }

    let day = WindowKey.utcDay(of: FixedClock().now())

    func program(_ budget: String) throws -> Program {
        try checkedProgram("""
            model m { provider "scripted"  context 8k  max_output 100  input $10 / 1M  output $10 / 1M  cached $1 / 1M  cache_write $20 / 1M }
            prompt ask(q: string) {
              model m
              max_tokens 50
              user "{q}"
            }
            \(budget)
            pipeline main(q: string) {
              return ask(q: q)
            }
            """)
    }

    func effects(_ provider: ModelProvider, spend: SpendLedger, trace: TraceSink = MemoryTrace()) -> RuntimeEffects {
        var effects = testEffects(provider: provider, trace: trace)
        effects.spend = spend
        return effects
    }

    func testUTCDaysAreTheCalendarsDays() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        // Every 7 hours and 13 minutes from 1901 to 2150: leap days, century years and times before the epoch included.
        for time in stride(from: -2_145_916_800.0, to: 5_680_281_600.0, by: 25_980) {
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: time))
            let expected = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            guard WindowKey.utcDay(of: time) == expected else { return XCTFail("\(time): \(WindowKey.utcDay(of: time)), not \(expected)") }
        }
        XCTAssertEqual(WindowKey.utcDay(of: 951_782_400), "2000-02-29")
        XCTAssertEqual(WindowKey.utcDay(of: 1_764_633_599.9), "2025-12-01")
    }

    // MARK: The in-memory ledger

    func testTheInMemoryLedgerNeverPassesALimitUnderConcurrentReservations() async throws {
        let ledger = InMemorySpendLedger()
        let key = WindowKey(window: .userDay, subject: "u", day: day)
        let limit = WindowLimit(key: key, dollars: 1.0)
        let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<500 {
                group.addTask {
                    let request = SpendRequest(runId: "r\(i)", time: FixedClock().now(), user: "u", session: nil, pipeline: "p",
                                               dollars: 0.03, tokens: 10, leaseSeconds: 60)
                    guard case .reserved(let ticket) = try ledger.reserve(request, limits: [limit]) else { return false }
                    // Half the calls spend less than they reserved, and every one settles.
                    try ledger.settle(ticket, dollars: i % 2 == 0 ? 0.03 : 0.01, tokens: 10, at: FixedClock().now())
                    return true
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        let standing = try XCTUnwrap(ledger.standings(of: [key]).first)
        XCTAssertLessThanOrEqual(standing.spentDollars, 1.0 + 1e-9)
        XCTAssertEqual(standing.reservedDollars, 0, accuracy: 1e-9)
        XCTAssertGreaterThanOrEqual(granted, 33, "at least the calls that fit at the worst case were let through")
        XCTAssertLessThan(granted, 500)
        // The day and pipeline windows count the same calls, though no limit was set on them.
        let day = try XCTUnwrap(ledger.standings(of: [WindowKey(window: .day, subject: "", day: self.day)]).first)
        XCTAssertEqual(day.spentDollars, standing.spentDollars, accuracy: 1e-9)
    }

    // MARK: Runs

    func testAUserDayBudgetHoldsAcrossRunsAndItsRefusalNamesTheWindow() async throws {
        // Worst case per call: (input ≤ 10 + 50 output) tokens at $10 / 1M — about $0.0006.
        let spend = InMemorySpendLedger()
        let interpreter = Interpreter(program: try program("budget user_day $0.002"),
                                      effects: effects(FixedUsageProvider(input: 10, output: 50), spend: spend))
        var ok = 0
        var refusal: RuntimeError?
        for _ in 0..<10 {
            do { _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], user: "cust-42"); ok += 1 } catch {
                refusal = error.error
                break
            }
        }
        XCTAssertEqual(ok, 3)
        let message = try XCTUnwrap(refusal).message
        XCTAssertTrue(message.contains("would pass the user_day budget of $0.002 for user `cust-42` (\(day) UTC: $0.0018 spent, $0 reserved)"), message)
        XCTAssertEqual(refusal?.kind, .budget)
        // Another user has a day of their own.
        _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], user: "cust-43")
    }

    func testAUserDayBudgetInARunForNoUserIsRefusedNamingTheOption() async throws {
        let interpreter = Interpreter(program: try program("budget user_day $2"),
                                      effects: effects(FixedUsageProvider(input: 10, output: 5), spend: InMemorySpendLedger()))
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")])
            XCTFail("a user_day budget needs a user")
        } catch {
            XCTAssertEqual(error.error.kind, .budget)
            XCTAssertEqual(error.error.message, "the `user_day` budget counts one user's spending, and this run names no user")
            XCTAssertEqual(error.error.diagnostic.help, "name the user with --user ID (or SLUICE_USER)")
            XCTAssertEqual(error.cost, 0)
        }
    }

    func testTokenWindowsAndSessionsCountTokens() async throws {
        let spend = InMemorySpendLedger()
        let interpreter = Interpreter(program: try program("budget session 150, pipeline_day $1"),
                                      effects: effects(FixedUsageProvider(input: 10, output: 50), spend: spend))
        _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], session: "s1")
        _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], session: "s1")
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], session: "s1")
            XCTFail("the third turn's worst case passes the session's 150 tokens")
        } catch {
            XCTAssertTrue(error.error.message.contains("would pass the session token budget of 150 for session `s1` (120 spent, 0 reserved)"),
                          error.error.message)
        }
        let pipeline = try XCTUnwrap(spend.standings(of: [WindowKey(window: .pipelineDay, subject: "main", day: day)]).first)
        XCTAssertEqual(pipeline.spentTokens, 120)
    }

    func testAnOverrunPastALimitEndsTheRunOverBudgetAndLaterCallsSeeTheRealSpend() async throws {
        // Reserved: about 60 tokens, $0.0006; reported: 45,000 output tokens, $0.45.
        let spend = InMemorySpendLedger()
        let trace = MemoryTrace()
        let interpreter = Interpreter(program: try program("budget request $0.05, user_day $0.05"),
                                      effects: effects(FixedUsageProvider(input: 10, output: 45_000), spend: spend, trace: trace))
        var runId = ""
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], user: "u1")
            XCTFail("the run passed its budget")
        } catch {
            runId = error.runId
            XCTAssertEqual(error.error.kind, .overBudget)
            XCTAssertEqual(error.cost, 0.4501, accuracy: 1e-9)
            let message = error.error.message
            XCTAssertTrue(message.contains("the real spend passed the request budget of $0.05 ($0.4501 spent)"), message)
            XCTAssertTrue(message.contains("the user_day budget of $0.05 for user `u1` (\(day) UTC: $0.4501 spent, $0 reserved)"), message)
        }
        XCTAssertTrue(trace.everything.contains("end overBudget"), trace.everything)
        let call = try XCTUnwrap(trace.calls(of: runId).last)
        XCTAssertTrue(call.warnings.contains { $0.hasPrefix("the provider reported more usage than was reserved") }, "\(call.warnings)")
        XCTAssertEqual(try spend.standings(of: [WindowKey(window: .userDay, subject: "u1", day: day)]).first?.spentDollars ?? 0, 0.4501,
                       accuracy: 1e-9)
        // The next run of the user is refused at once: the window holds the real spend.
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], user: "u1")
            XCTFail("the window is spent")
        } catch {
            XCTAssertEqual(error.error.kind, .budget)
            XCTAssertEqual(error.cost, 0)
        }
    }

    func testAnOverrunWithinTheLimitsIsRecordedButTheRunIsOk() async throws {
        let trace = MemoryTrace()
        let interpreter = Interpreter(program: try program("budget request $0.05"),
                                      effects: effects(FixedUsageProvider(input: 10, output: 80), spend: InMemorySpendLedger(), trace: trace))
        let result = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")])
        XCTAssertEqual(result.cost, 0.0009, accuracy: 1e-12)
        XCTAssertTrue(trace.everything.contains("end ok"), trace.everything)
        XCTAssertTrue(trace.calls(of: result.runId).last?.warnings.contains { $0.contains("tokens over") } ?? false)
    }

    func testCachedAndCacheWrittenTokensAreChargedAtTheirPrices() async throws {
        // 1,000 input tokens: 600 read from the cache ($1 / 1M), 300 written to it ($20 / 1M), 100
        // plain ($10 / 1M); 10 output tokens at $10 / 1M.
        let trace = MemoryTrace()
        let interpreter = Interpreter(program: try program(""),
                                      effects: effects(FixedUsageProvider(input: 1000, output: 10, cached: 600, cacheWritten: 300),
                                                       spend: InMemorySpendLedger(), trace: trace))
        let result = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")])
        let expected: Double = (600 * 1 + 300 * 20 + 100 * 10 + 10 * 10) / 1e6
        XCTAssertEqual(result.cost, expected, accuracy: 1e-12)
        XCTAssertEqual(trace.calls(of: result.runId).last?.cacheWriteTokens, 300)
    }

    func testASessionBudgetInARunOfNoConversationIsRefusedNamingTheOptions() async throws {
        let interpreter = Interpreter(program: try program("budget session $1"),
                                      effects: effects(FixedUsageProvider(input: 10, output: 5), spend: InMemorySpendLedger()))
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], user: "u1")
            XCTFail("a session budget needs a session")
        } catch {
            XCTAssertEqual(error.error.message, "the `session` budget counts one conversation's spending, and this run continues none")
            XCTAssertEqual(error.error.diagnostic.help, "continue a conversation with --session ID, or start one with --new-session")
        }
    }

    func testARunWithoutWindowBudgetsStillCountsInTheWindowsOthersLimit() async throws {
        let spend = InMemorySpendLedger()
        let provider = FixedUsageProvider(input: 10, output: 50)
        let unbudgeted = Interpreter(program: try program(""), effects: effects(provider, spend: spend))
        let budgeted = Interpreter(program: try program("budget user_day $0.0007"), effects: effects(provider, spend: spend))
        _ = try await unbudgeted.run(pipeline: "main", inputs: ["q": .string("hi")], user: "u1")
        do {
            _ = try await budgeted.run(pipeline: "main", inputs: ["q": .string("hi")], user: "u1")
            XCTFail("the user's day already holds $0.0006")
        } catch {
            XCTAssertTrue(error.error.message.contains("(\(day) UTC: $0.0006 spent, $0 reserved)"), error.error.message)
        }
    }

    func testACatchCannotTakeAnOverrunsEndAndTheSpanRecordsIt() async throws {
        let trace = MemoryTrace()
        let program = try checkedProgram("""
            model m { provider "scripted"  context 8k  max_output 100  input $10 / 1M  output $10 / 1M }
            prompt ask(q: string) {
              model m
              max_tokens 50
              user "{q}"
            }
            pipeline main(q: string) {
              budget request $0.01
              a = ask(q: q) catch "fallback"
              return a
            }
            """)
        let interpreter = Interpreter(program: program, effects: effects(FixedUsageProvider(input: 10, output: 5_000), spend: InMemorySpendLedger(),
                                                                         trace: trace))
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")])
            XCTFail("the run is over budget")
        } catch {
            XCTAssertEqual(error.error.kind, .overBudget)
            XCTAssertTrue(error.error.message.contains("the request budget of $0.01 ($0.0501 spent)"), error.error.message)
        }
        XCTAssertTrue(trace.everything.contains("\"overrun\":{\"dollars\":"), trace.everything)
        XCTAssertTrue(trace.everything.contains("end overBudget"), trace.everything)
    }

    func testACalledPipelinesWindowLimitTightensTheSameWindow() async throws {
        let spend = InMemorySpendLedger()
        let program = try checkedProgram("""
            model m { provider "scripted"  context 8k  max_output 100  input $10 / 1M  output $10 / 1M }
            prompt ask(q: string) {
              model m
              max_tokens 50
              user "{q}"
            }
            budget user_day $1
            pipeline inner(q: string) {
              budget user_day $0.001
              return ask(q: q)
            }
            pipeline main(q: string) {
              a = ask(q: q)
              b = inner(q: q)
              return b
            }
            """)
        let interpreter = Interpreter(program: program, effects: effects(FixedUsageProvider(input: 10, output: 50), spend: spend))
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["q": .string("hi")], user: "u1")
            XCTFail("inner's call passes its own user_day limit")
        } catch {
            XCTAssertTrue(error.error.message.contains("would pass the user_day budget of pipeline `inner` of $0.001 for user `u1` "
                                                       + "(\(day) UTC: $0.0006 spent, $0 reserved)"), error.error.message)
        }
    }
}
