import Foundation
import SluiceServices

/// The viewer's pages over one store, independent of the web server: a path and its query in,
/// a status and a page out.
///
///   /               the runs, filtered, searched and paged
///   /runs/ID        one run: its span waterfall, model calls, guard verdicts and scores
///   /charts         cost per day and the latency distribution of the runs the same filters select
struct TraceViewer: Sendable {
    let store: SQLiteStore

    /// How many runs one page of the list shows.
    static let pageSize = 25

    func respond(path rawPath: String, query: String?) -> ViewerPage {
        let path = rawPath.removingPercentEncoding ?? rawPath
        let fields = Display.formFields(query)
        do {
            if path == "/" { return try runList(RunListQuery.parse(fields)) }
            if path == "/charts" { return try charts(RunListQuery.parse(fields)) }
            if path.hasPrefix("/runs/"), !path.dropFirst("/runs/".count).isEmpty {
                return try runPage(id: String(path.dropFirst("/runs/".count)))
            }
            return Layout.problem(status: 404, title: "Not found", storePath: store.path, message: "There is no page at \(path).")
        } catch let error as BadQuery {
            return Layout.problem(status: 400, title: "Bad request", storePath: store.path, message: error.message)
        } catch {
            return Layout.problem(status: 500, title: "Cannot read the store", storePath: store.path,
                                  message: "Reading \(store.path) failed: \(error)")
        }
    }

    private func runList(_ query: RunListQuery) throws -> ViewerPage {
        let page = try store.viewerRuns(matching: query.filter, offset: (query.page - 1) * Self.pageSize, limit: Self.pageSize)
        return ViewerPage(status: 200, html: Layout.page(title: "Runs", section: .runs, storePath: store.path,
                                                         body: RunListPage(query: query, page: page, facets: try store.viewerFacets()).body))
    }

    private func charts(_ query: RunListQuery) throws -> ViewerPage {
        let body = ChartsPage(query: query, facets: try store.viewerFacets(), dailyCosts: try store.dailyCosts(matching: query.filter),
                              durations: try store.runDurations(matching: query.filter)).body
        return ViewerPage(status: 200, html: Layout.page(title: "Charts", section: .charts, storePath: store.path, body: body))
    }

    private func runPage(id: String) throws -> ViewerPage {
        let detail: RunDetail?
        do { detail = try store.run(id: id) } catch let error as StoreError {
            // An ambiguous prefix: the store's message lists the candidates.
            throw BadQuery(message: error.message)
        }
        guard let detail else {
            return Layout.problem(status: 404, title: "No such run", storePath: store.path,
                                  message: "There is no run with id \(id) in \(store.path).")
        }
        let owner = try store.viewerRunOwner(id: detail.summary.id)
        return ViewerPage(status: 200, html: Layout.page(title: "Run \(detail.summary.id.prefix(8))", section: .none, storePath: store.path,
                                                         body: RunPage(detail: detail, user: owner?.user, session: owner?.session).body))
    }
}

/// A request the viewer cannot answer as asked (a malformed filter value, an ambiguous run id).
struct BadQuery: Error {
    var message: String
}

/// The run list's (and the charts') query fields: `pipeline`, `user`, `status`, `from` and `to`
/// (`yyyy-MM-dd`, UTC, both days included), `q` (text search) and `page` (from 1).
struct RunListQuery: Sendable, Hashable {
    var pipeline = ""
    var user = ""
    var status = ""
    var from = ""
    var to = ""
    var search = ""
    var page = 1

    static func parse(_ fields: [String: String]) throws -> RunListQuery {
        var query = RunListQuery()
        query.pipeline = fields["pipeline"] ?? ""
        query.user = fields["user"] ?? ""
        query.status = fields["status"] ?? ""
        query.from = (fields["from"] ?? "").trimmingCharacters(in: .whitespaces)
        query.to = (fields["to"] ?? "").trimmingCharacters(in: .whitespaces)
        query.search = fields["q"] ?? ""
        for (name, value) in [("from", query.from), ("to", query.to)] where !value.isEmpty && Display.startOfDay(value) == nil {
            throw BadQuery(message: "The \(name) date \(value) is not a date written yyyy-MM-dd (such as 2026-12-01).")
        }
        if let from = Display.startOfDay(query.from), let to = Display.startOfDay(query.to), from > to {
            throw BadQuery(message: "The time range starts (\(query.from)) after it ends (\(query.to)).")
        }
        if let page = fields["page"], !page.isEmpty {
            // The bound keeps the page's offset a number.
            guard let number = Int(page), number >= 1, number <= Int.max / TraceViewer.pageSize else {
                throw BadQuery(message: "The page \(page) is not a page number (1, 2, ...).")
            }
            query.page = number
        }
        return query
    }

    var filter: TraceFilter {
        TraceFilter(pipeline: pipeline.isEmpty ? nil : pipeline, user: user.isEmpty ? nil : user, status: status.isEmpty ? nil : status,
                    since: Display.startOfDay(from), until: Display.startOfDay(to).map { $0 + 86_400 },
                    search: search.isEmpty ? nil : search)
    }

    /// The fields as a query, for links that keep the filters (`page` only when it is not the first).
    func fields(page: Int? = nil) -> [(String, String)] {
        [("pipeline", pipeline), ("user", user), ("status", status), ("from", from), ("to", to), ("q", search),
         ("page", page.map { $0 > 1 ? String($0) : "" } ?? "")]
    }

    var isFiltered: Bool { !(pipeline.isEmpty && user.isEmpty && status.isEmpty && from.isEmpty && to.isEmpty && search.isEmpty) }
}
