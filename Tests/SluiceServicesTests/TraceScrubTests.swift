import Foundation
import XCTest
import SluiceRuntime
@testable import SluiceServices

/// Text that became secret after it was stored is replaced in every row of its run, in JSON
/// columns by their decoded text, and in no other run.
final class TraceScrubTests: XCTestCase {
    func testScrubReplacesASecretInEveryRowOfTheRunOnly() throws {
        let folder = try temporaryFolder(self)
        let store = try SQLiteStore(path: folder + "/sluice.db")
        let secret = "ada\"abc\\lovelace@example.com"   // quotes and backslashes are escaped in stored JSON
        for run in ["r1", "r2"] {
            try store.runStarted(TraceRun(id: run, pipeline: "p", file: "p.sluice", startedAt: 0,
                                          inputs: .object([("q", .string("key \(secret)"))])))
            try store.spanStarted(TraceSpan(id: "\(run)-s", runId: run, parentId: nil, kind: "prompt", name: "p", startedAt: 0))
            try store.modelCalled(TraceModelCall(runId: run, spanId: "\(run)-s", model: "m", provider: "openai",
                                                 messages: [ChatMessage(role: "user", content: "use \(secret)")],
                                                 reply: "your key is \(secret)", inputTokens: 1, outputTokens: 1, cachedTokens: 0,
                                                 cost: 0, latencyMs: 1, error: nil, attempt: 1))
            try store.spanEnded(TraceSpanEnd(id: "\(run)-s", endedAt: 1, status: "ok", detail: .object([("query", .string(secret))])))
        }
        try store.scrub(runId: "r1", replacements: [(secret, "[SECRET]")])
        let rows = try store.database.withConnection { db in
            try db.query("""
                SELECT runs.id, runs.inputs, model_calls.messages, model_calls.reply, spans.detail
                FROM runs JOIN model_calls ON model_calls.run_id = runs.id JOIN spans ON spans.run_id = runs.id ORDER BY runs.id
                """) { row in (0..<5).map { row.text(Int32($0)) } }
        }
        XCTAssertEqual(rows.count, 2)
        let scrubbed = rows[0].joined(separator: " "), untouched = rows[1].joined(separator: " ")
        XCTAssertFalse(scrubbed.contains("abc"), scrubbed)
        XCTAssertEqual(scrubbed.components(separatedBy: "[SECRET]").count - 1, 4, scrubbed)
        XCTAssertTrue(untouched.contains("abc"), "another run's rows are left alone")
    }
}
