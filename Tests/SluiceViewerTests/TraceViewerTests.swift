import Foundation
import SluiceRuntime
import SluiceServices
@testable import SluiceViewer
import XCTest

/// The viewer's pages as markup, without a server or a browser (the CLI tests drive both).
final class TraceViewerTests: XCTestCase {
    private var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "sluice-viewer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }

    // MARK: Escaping

    func testInterpolatedTextIsEscapedAndMarkupIsNot() {
        let hostile = "<script>alert('x')</script> & \"quoted\""
        let bold: HTML = "<b>\(hostile)</b>"
        XCTAssertEqual(bold.markup, "<b>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;</b>")
        let nested: HTML = "<p>\(bold)</p>"
        XCTAssertEqual(nested.markup, "<p>" + bold.markup + "</p>", "an HTML value is embedded as it is, not escaped twice")
        let attribute: HTML = "<a title=\"\("\" onmouseover=\"alert(1)")\">x</a>"
        XCTAssertEqual(attribute.markup, "<a title=\"&quot; onmouseover=&quot;alert(1)\">x</a>")
        XCTAssertEqual(HTML.text("a\0b").markup, "a\u{FFFD}b")
        let numbers: HTML = "\(3) \(2.5) \(1.0 / 3) \(-0.001)"
        XCTAssertEqual(numbers.markup, "3 2.5 0.33 0")
    }

    // MARK: Query fields

    func testFormFieldsDecodeAsABrowserSendsThem() {
        XCTAssertEqual(Display.formFields("q=a+b%2Bc&pipeline=rag&empty=&bare&q2=%3Cscript%3E"),
                       ["q": "a b+c", "pipeline": "rag", "empty": "", "bare": "", "q2": "<script>"])
        XCTAssertEqual(Display.formFields("page=1&page=2"), ["page": "2"])
        XCTAssertEqual(Display.formFields("bad=%ZZ&ok=1"), ["ok": "1"])
        XCTAssertEqual(Display.formFields(nil), [:])
        XCTAssertEqual(Display.link("/", [("q", "a b&c"), ("user", ""), ("page", "2")]), "/?q=a%20b%26c&page=2")
        XCTAssertEqual(Display.runLink("a/b?c"), "/runs/a%2Fb%3Fc")
    }

    func testRunListQueryNamesWhatIsWrong() throws {
        XCTAssertThrowsError(try RunListQuery.parse(["from": "2026-13-01"])) {
            XCTAssertEqual(($0 as? BadQuery)?.message, "The from date 2026-13-01 is not a date written yyyy-MM-dd (such as 2026-12-01).")
        }
        XCTAssertThrowsError(try RunListQuery.parse(["to": "2026-02-30"]))
        XCTAssertThrowsError(try RunListQuery.parse(["from": "2026-12-02", "to": "2026-12-01"])) {
            XCTAssertEqual(($0 as? BadQuery)?.message, "The time range starts (2026-12-02) after it ends (2026-12-01).")
        }
        XCTAssertThrowsError(try RunListQuery.parse(["page": "0"])) {
            XCTAssertEqual(($0 as? BadQuery)?.message, "The page 0 is not a page number (1, 2, ...).")
        }
        XCTAssertThrowsError(try RunListQuery.parse(["page": "\(Int.max)"]), "too far to have an offset")
        XCTAssertThrowsError(try RunListQuery.parse(["page": "2.5"]))
        let query = try RunListQuery.parse(["from": "2026-12-01", "to": "2026-12-01", "q": "reset", "status": "ok", "page": "3"])
        XCTAssertEqual(query.page, 3)
        XCTAssertEqual(query.filter, TraceFilter(status: "ok", since: 1_796_083_200, until: 1_796_083_200 + 86_400, search: "reset"),
                       "the to day is included whole")
    }

    func testOnlyRequestsForTheLoopbackAreAnswered() {
        for authority in ["127.0.0.1:8484", "127.0.0.1", "localhost:8484", "LOCALHOST", "[::1]:8484", nil] {
            XCTAssertTrue(ViewerServer.isLoopback(authority: authority), authority ?? "no Host")
        }
        for authority in ["attacker.example:8484", "127.0.0.1.attacker.example", "localhost.attacker.example:80", "[::2]:8484", "10.0.0.1"] {
            XCTAssertFalse(ViewerServer.isLoopback(authority: authority), authority)
        }
    }

    // MARK: Charts

    func testHistogramBinsAreRoundAndHoldEveryValue() {
        XCTAssertEqual(Histogram.roundStep(0.028), 0.05)
        XCTAssertEqual(Histogram.roundStep(3), 5)
        XCTAssertEqual(Histogram.roundStep(0.1), 0.1)
        let bins = Histogram(values: [0.01, 0.2, 0.21, 1.19, 1.2], longest: 1.2)
        XCTAssertEqual(bins.width, 0.1)
        XCTAssertEqual(bins.counts.reduce(0, +), 5)
        XCTAssertEqual(bins.counts.first, 1)
        XCTAssertEqual(bins.counts[2], 2)
        XCTAssertEqual(bins.counts.count, 12, "0 to 1.2 in steps of 0.1")
        XCTAssertEqual(bins.counts.last, 2, "the last bin holds its upper edge, the longest value")
        XCTAssertEqual(ChartsPage.percentile(0.5, of: [1, 2, 3, 4]), 2)
        XCTAssertEqual(ChartsPage.percentile(0.95, of: [1, 2, 3, 4]), 4)
    }

    // MARK: Pages

    private func viewer() throws -> TraceViewer {
        let path = folder + "/s.db"
        do {
            let store = try SQLiteStore(path: path)
            let start = 1_796_083_200.0
            try store.runStarted(TraceRun(id: "run-hostile", pipeline: "support", file: "support.sluice", startedAt: start,
                                          inputs: .object([("question", .string("<script>alert(1)</script>"))]), user: "<b>eve</b>"))
            try store.spanStarted(TraceSpan(id: "p", runId: "run-hostile", parentId: nil, kind: "pipeline", name: "support", startedAt: start))
            try store.spanStarted(TraceSpan(id: "c", runId: "run-hostile", parentId: "p", kind: "cascade", name: "answer", startedAt: start + 0.5))
            try store.modelCalled(TraceModelCall(runId: "run-hostile", spanId: "c", model: "gpt-4o-mini", provider: "openai",
                                                 messages: [ChatMessage(role: "user", content: "<img src=x onerror=alert(2)>")],
                                                 reply: "</pre><script>alert(3)</script>", inputTokens: 800, outputTokens: 90,
                                                 cachedTokens: 0, cost: 0.0002, latencyMs: 480, error: nil, attempt: 1))
            try store.spanEnded(TraceSpanEnd(id: "c", endedAt: start + 1, status: "ok", detail: .object([])))
            try store.spanEnded(TraceSpanEnd(id: "p", endedAt: start + 2, status: "ok", detail: .object([])))
            try store.guardChecked(TraceGuardVerdict(runId: "run-hostile", spanId: "p", guardName: "injection", pattern: nil,
                                                     verdict: "flagged", matches: 1))
            try store.scored(TraceScore(runId: "run-hostile", spanId: "c", name: "faithfulness", value: 0.875))
            try store.runEnded(TraceRunEnd(id: "run-hostile", status: .ok, endedAt: start + 2, output: .string("fine"), error: nil,
                                           cost: 0.0002, tokens: 890))
        }
        return TraceViewer(store: try SQLiteStore(path: path, readOnly: true))
    }

    func testTheRunPageShowsTheWaterfallCallsVerdictsAndScoresEscaped() throws {
        let page = try viewer().respond(path: "/runs/run-hostile", query: nil)
        XCTAssertEqual(page.status, 200)
        let markup = page.html.markup
        XCTAssertFalse(markup.contains("<script"), "no value from the store becomes markup")
        XCTAssertFalse(markup.contains("<img"))
        XCTAssertFalse(markup.contains("<b>eve"))
        XCTAssertTrue(markup.contains("&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"), "the input, as JSON text")
        XCTAssertTrue(markup.contains("&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;"), "the reply")
        XCTAssertTrue(markup.contains("&lt;b&gt;eve&lt;/b&gt;"), "the user")
        // The cascade starts half a second into a two-second run and takes half a second.
        XCTAssertTrue(markup.contains("class=\"bar ok\" style=\"left:25%;width:25%\""), markup)
        XCTAssertTrue(markup.contains("class=\"bar ok\" style=\"left:0%;width:100%\""))
        XCTAssertTrue(markup.contains("800 in / 90 out tokens · $0.0002 · 480 ms"))
        XCTAssertTrue(markup.contains("<td>faithfulness</td><td class=\"num\">0.875</td>"))
        XCTAssertTrue(markup.contains("<span class=\"badge warn\">flagged</span>"))
    }

    func testUnknownRunsAndPagesAre404AndBadFiltersAre400() throws {
        let viewer = try viewer()
        let unknown = viewer.respond(path: "/runs/%3Cnope%3E", query: nil)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertTrue(unknown.html.markup.contains("There is no run with id &lt;nope&gt; in "), unknown.html.markup)
        XCTAssertEqual(viewer.respond(path: "/favicon.ico", query: nil).status, 404)
        XCTAssertEqual(viewer.respond(path: "/runs/", query: nil).status, 404)
        let bad = viewer.respond(path: "/", query: "from=yesterday")
        XCTAssertEqual(bad.status, 400)
        XCTAssertTrue(bad.html.markup.contains("The from date yesterday is not a date"))
        XCTAssertEqual(viewer.respond(path: "/runs/run-", query: nil).status, 200, "a unique prefix is enough")
    }

    func testTheListPagesWithLinksThatKeepTheFilters() throws {
        let path = folder + "/paged.db"
        do {
            let store = try SQLiteStore(path: path)
            for index in 0..<30 {
                try store.runStarted(TraceRun(id: String(format: "run-%02d", index), pipeline: "rag", file: "rag.sluice",
                                              startedAt: 1_796_083_200 + Double(index), inputs: .object([]), user: "bob"))
            }
        }
        let viewer = TraceViewer(store: try SQLiteStore(path: path, readOnly: true))
        let first = viewer.respond(path: "/", query: "user=bob").html.markup
        XCTAssertTrue(first.contains("30 runs match, showing 1–25 (page 1 of 2)"), first)
        XCTAssertTrue(first.contains("<a rel=\"next\" href=\"/?user=bob&amp;page=2\">Older →</a>"), first)
        XCTAssertFalse(first.contains("rel=\"prev\""))
        XCTAssertTrue(first.contains(">run-29<"), "newest first")
        let second = viewer.respond(path: "/", query: "user=bob&page=2").html.markup
        XCTAssertTrue(second.contains("showing 26–30 (page 2 of 2)"), second)
        XCTAssertTrue(second.contains("<a rel=\"prev\" href=\"/?user=bob\">← Newer</a>"))
        XCTAssertTrue(second.contains(">run-00<"))
        XCTAssertTrue(viewer.respond(path: "/", query: "page=9").html.markup.contains("There is no page 9 of these runs."))
    }

    func testAnOpenSpanReachesToTheEndOfWhatIsKnown() throws {
        let path = folder + "/open.db"
        do {
            let store = try SQLiteStore(path: path)
            try store.runStarted(TraceRun(id: "open", pipeline: "rag", file: "rag.sluice", startedAt: 100, inputs: .object([])))
            try store.spanStarted(TraceSpan(id: "p", runId: "open", parentId: nil, kind: "pipeline", name: "rag", startedAt: 100))
            try store.spanStarted(TraceSpan(id: "r", runId: "open", parentId: "p", kind: "retrieve", name: "kb", startedAt: 101))
            try store.spanEnded(TraceSpanEnd(id: "r", endedAt: 104, status: "error", detail: .object([])))
        }
        let markup = TraceViewer(store: try SQLiteStore(path: path, readOnly: true)).respond(path: "/runs/open", query: nil).html.markup
        XCTAssertTrue(markup.contains("class=\"bar open\" style=\"left:0%;width:100%\""), markup)
        XCTAssertTrue(markup.contains("class=\"bar error\" style=\"left:25%;width:75%\""))
        XCTAssertTrue(markup.contains("<div class=\"span-time\">unfinished</div>"))
        XCTAssertTrue(markup.contains("<dd>not ended</dd>"))
        XCTAssertTrue(markup.contains("padding-left:16px"), "a child is indented under its parent")
    }

    func testTheListAndChartsShowTheFilteredRuns() throws {
        let viewer = try viewer()
        let list = viewer.respond(path: "/", query: "q=%3Cscript%3E").html.markup
        XCTAssertTrue(list.contains("1 run matches"), list)
        XCTAssertTrue(list.contains("href=\"/runs/run-hostile\""))
        XCTAssertTrue(list.contains("value=\"&lt;script&gt;\""), "the search box keeps the text, escaped")
        XCTAssertTrue(list.contains("<a class=\"clear\" href=\"/\">Clear</a>"), "a filtered list links to the whole one")
        XCTAssertFalse(viewer.respond(path: "/", query: nil).html.markup.contains("Clear</a>"))
        XCTAssertTrue(viewer.respond(path: "/", query: "pipeline=rag").html.markup.contains("No run matches these filters."))
        let charts = viewer.respond(path: "/charts", query: nil).html.markup
        XCTAssertTrue(charts.contains("<svg"))
        XCTAssertTrue(charts.contains("<title>2026-12-01: $0.0002 over 1 run</title>"), charts)
        XCTAssertTrue(charts.contains("1 finished run: median 2.00 s, p95 2.00 s, longest 2.00 s."))
    }
}
