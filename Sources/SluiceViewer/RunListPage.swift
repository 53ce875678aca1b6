import Foundation
import SluiceServices

/// The filter form the run list and the charts share; it sends its fields back to `action`.
struct FilterForm {
    let query: RunListQuery
    let facets: ViewerFacets
    let action: String

    var body: HTML {
        func select(_ name: String, _ label: String, _ options: [String], _ chosen: String) -> HTML {
            // A chosen value no run has any more (a link kept from earlier) stays selectable, so the form shows what is applied.
            let values = options.contains(chosen) || chosen.isEmpty ? options : [chosen] + options
            let items = HTML.joined(values.map { value -> HTML in
                value == chosen ? "<option selected value=\"\(value)\">\(value)</option>" : "<option value=\"\(value)\">\(value)</option>"
            })
            return "<label>\(label)<select name=\"\(name)\"><option value=\"\">any</option>\(items)</select></label>"
        }
        let clear: HTML = query.isFiltered ? "<a class=\"clear\" href=\"\(action)\">Clear</a>" : ""
        return """
            <form class="filters" method="get" action="\(action)">
            \(select("pipeline", "Pipeline", facets.pipelines, query.pipeline))
            \(select("user", "User", facets.users, query.user))
            \(select("status", "Status", facets.statuses, query.status))
            <label>From (UTC)<input type="date" name="from" value="\(query.from)"></label>
            <label>To (UTC)<input type="date" name="to" value="\(query.to)"></label>
            <label>Search inputs, outputs, errors<input type="search" name="q" value="\(query.search)" placeholder="text"></label>
            <button type="submit">Filter</button>
            \(clear)
            </form>
            """
    }
}

/// `/`: one page of the runs the filters select, newest first.
struct RunListPage {
    let query: RunListQuery
    let page: MatchingRuns
    let facets: ViewerFacets

    var body: HTML {
        let pages = max(1, (page.total + TraceViewer.pageSize - 1) / TraceViewer.pageSize)
        let count = page.total == 1 ? "1 run" : "\(page.total) runs"
        let matched = page.total == 1 ? "1 run matches" : "\(page.total) runs match"
        let first = (query.page - 1) * TraceViewer.pageSize + 1
        let shown = page.runs.isEmpty ? "" : ", showing \(first)–\(first + page.runs.count - 1) (page \(query.page) of \(pages))"
        let summary = (query.isFiltered ? matched : "\(count) recorded") + shown
        var pager: [HTML] = []
        if query.page > 1 { pager.append("<a rel=\"prev\" href=\"\(Display.link("/", query.fields(page: min(query.page - 1, pages))))\">← Newer</a>") }
        if query.page < pages { pager.append("<a rel=\"next\" href=\"\(Display.link("/", query.fields(page: query.page + 1)))\">Older →</a>") }
        return """
            <h1>Runs</h1>
            \(FilterForm(query: query, facets: facets, action: "/").body)
            <p class="summary">\(summary) · <a href="\(Display.link("/charts", query.fields()))">charts of these runs</a></p>
            \(table)
            <div class="pager">\(HTML.joined(pager))</div>
            """
    }

    private var table: HTML {
        guard !page.runs.isEmpty else {
            let message = query.page > 1 ? "There is no page \(query.page) of these runs."
                : query.isFiltered ? "No run matches these filters." : "No runs are recorded in this store yet."
            return "<p class=\"empty\">\(message)</p>"
        }
        let rows = HTML.joined(page.runs.map { run -> HTML in
            """
            <tr><td class="mono"><a href="\(Display.runLink(run.id))" title="\(run.id)">\(String(run.id.prefix(8)))</a></td>\
            <td>\(Display.timestamp(run.startedAt))</td><td>\(run.pipeline)</td><td>\(run.user ?? "")</td>\
            <td>\(Layout.badge(run.status))</td><td class="num">\(run.duration.map(Display.duration) ?? "")</td>\
            <td class="num">\(run.tokens)</td><td class="num">\(NumberDisplay.money(run.cost))</td></tr>
            """
        }, separator: "\n")
        return """
            <table class="runs">
            <thead><tr><th>Run</th><th>Started</th><th>Pipeline</th><th>User</th><th>Status</th><th class="num">Duration</th>\
            <th class="num">Tokens</th><th class="num">Cost</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            """
    }
}
