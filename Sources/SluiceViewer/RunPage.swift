import Foundation
import SluiceRuntime
import SluiceServices

/// `/runs/ID`: what one run did: its facts, inputs and output, the span waterfall, each model
/// call's messages and reply, guard verdicts and scores.
struct RunPage {
    let detail: RunDetail
    let user: String?
    let session: String?

    private var run: RunSummary { detail.summary }

    var body: HTML {
        """
        <h1>\(run.pipeline) \(Layout.badge(run.status))</h1>
        <section class="card"><dl class="facts">
        <dt>Run</dt><dd class="mono">\(run.id)</dd><dt>File</dt><dd class="mono">\(run.file)</dd>
        <dt>Started</dt><dd>\(Display.timestamp(run.startedAt))</dd><dt>Duration</dt><dd>\(run.duration.map(Display.duration) ?? "not ended")</dd>
        <dt>Tokens</dt><dd>\(run.tokens)</dd><dt>Cost</dt><dd>\(NumberDisplay.money(run.cost))</dd>
        <dt>User</dt><dd>\(user ?? "—")</dd><dt>Session</dt><dd class="mono">\(session ?? "—")</dd>
        </dl></section>
        <h2>Inputs</h2>
        <pre>\(detail.inputs.prettyPrinted())</pre>
        \(outcome)
        <h2>Spans</h2>
        \(waterfall)
        <h2>Model calls</h2>
        \(modelCalls)
        <h2>Guard verdicts</h2>
        \(guardVerdicts)
        <h2>Scores</h2>
        \(scores)
        """
    }

    private var outcome: HTML {
        var parts: [HTML] = []
        if let output = detail.output { parts.append("<h2>Output</h2>\n<pre>\(Self.readable(output))</pre>") }
        if let error = detail.error { parts.append("<h2>Error</h2>\n<pre class=\"problem\">\(error)</pre>") }
        return HTML.joined(parts, separator: "\n")
    }

    /// A string as its text, anything else as indented JSON.
    private static func readable(_ value: JSONValue) -> String {
        value.stringValue ?? value.prettyPrinted()
    }

    /// The spans on one time line from the run's start: each bar starts at the span's offset and is as long as it took.
    private var waterfall: HTML {
        guard !detail.spans.isEmpty else { return "<p class=\"empty\">This run recorded no spans.</p>" }
        let start = run.startedAt
        // An open span (a run that was stopped or is still going) reaches to the end of what is known.
        let knownEnd = ([run.endedAt ?? start] + detail.spans.map { $0.endedAt ?? $0.startedAt }).max() ?? start
        let total = max(knownEnd - start, 0.000_001)
        let rows = HTML.joined(detail.spans.enumerated().map { index, span -> HTML in
            let offset = max(0, span.startedAt - start)
            let length = max(0, (span.endedAt ?? knownEnd) - span.startedAt)
            let left = min(100, offset / total * 100), width = min(100 - left, length / total * 100)
            let tone: HTML = span.endedAt == nil ? "open" : span.status == "error" ? "error" : "ok"
            let time = span.duration.map(Display.duration) ?? "unfinished"
            let tip = "\(span.kind) \(span.name): starts at +\(Display.duration(offset)), \(time)\(span.status.map { ", \($0)" } ?? "")"
            return """
                <div class="span-row" id="span-\(index)"><div class="span-label" style="padding-left:\(Double(span.depth) * 16)px" \
                title="\(span.kind) \(span.name)"><span class="kind">\(span.kind)</span>\(span.name)</div>\
                <div class="track"><div class="bar \(tone)" style="left:\(left)%;width:\(width)%" title="\(tip)"></div></div>\
                <div class="span-time">\(time)</div></div>
                """
        }, separator: "\n")
        return """
            <div class="waterfall">
            <div class="axis"><span></span><div><span>0</span><span>\(Display.duration(total / 2))</span><span>\(Display.duration(total))</span></div><span></span></div>
            \(rows)
            </div>
            """
    }

    /// The span a record belongs to, as a link to its row of the waterfall.
    private func spanLink(_ spanId: String?) -> HTML {
        guard let spanId, let index = detail.spans.firstIndex(where: { $0.id == spanId }) else { return "run" }
        let span = detail.spans[index]
        return "<a href=\"#span-\(index)\">\(span.kind) \(span.name)</a>"
    }

    private var modelCalls: HTML {
        guard !detail.modelCalls.isEmpty else { return "<p class=\"empty\">This run made no model calls.</p>" }
        return HTML.joined(detail.modelCalls.map { call -> HTML in
            var facts = ["attempt \(call.attempt)", "\(call.inputTokens) in / \(call.outputTokens) out tokens"]
            if call.cachedTokens > 0 { facts.append("\(call.cachedTokens) cached") }
            facts += [NumberDisplay.money(call.cost), Display.duration(call.latencyMs / 1000)]
            if let version = call.promptVersion { facts.append("prompt v\(version)") }
            let messages = HTML.joined(call.messages.map { message -> HTML in
                "<div class=\"role\">\(message.role)</div><pre>\(message.content)</pre>"
            }, separator: "\n")
            var extras: [HTML] = []
            if let meta = call.promptMeta { extras.append("<div class=\"role\">prompt meta</div><pre>\(meta.prettyPrinted())</pre>") }
            for warning in call.warnings { extras.append("<div class=\"role\">warning</div><pre>\(warning)</pre>") }
            if let error = call.error { extras.append("<div class=\"role\">error</div><pre class=\"problem\">\(error)</pre>") }
            if let reply = call.reply { extras.append("<div class=\"role\">reply</div><pre class=\"reply\">\(reply)</pre>") }
            return """
                <div class="call"><h3>\(call.model) <span class="kind">(\(call.provider))</span> \(Layout.badge(call.status.rawValue))</h3>
                <div class="meta">\(facts.joined(separator: " · ")) · in \(spanLink(call.spanId))</div>
                \(messages)
                \(HTML.joined(extras, separator: "\n"))
                </div>
                """
        }, separator: "\n")
    }

    private var guardVerdicts: HTML {
        guard !detail.guardVerdicts.isEmpty else { return "<p class=\"empty\">No guard checked this run.</p>" }
        let rows = HTML.joined(detail.guardVerdicts.map { verdict -> HTML in
            """
            <tr><td>\(verdict.guardName)</td><td class="mono">\(verdict.pattern ?? "")</td><td>\(Layout.badge(verdict.verdict))</td>\
            <td class="num">\(verdict.matches)</td><td>\(spanLink(verdict.spanId))</td></tr>
            """
        }, separator: "\n")
        return """
            <table class="guards"><thead><tr><th>Guard</th><th>Pattern</th><th>Verdict</th><th class="num">Matches</th><th>In</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            """
    }

    private var scores: HTML {
        guard !detail.scores.isEmpty else { return "<p class=\"empty\">No scores were recorded.</p>" }
        let rows = HTML.joined(detail.scores.map { score -> HTML in
            "<tr><td>\(score.name)</td><td class=\"num\">\(NumberDisplay.score(score.value))</td><td>\(spanLink(score.spanId))</td></tr>"
        }, separator: "\n")
        return """
            <table class="scores"><thead><tr><th>Score</th><th class="num">Value</th><th>In</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            """
    }
}
