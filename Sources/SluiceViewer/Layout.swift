/// What the viewer answers to one request: an HTTP status and a whole page.
struct ViewerPage: Sendable {
    var status: Int
    var html: HTML
}

/// The frame every page shares: the header with its links and the inline style sheet (the
/// viewer serves nothing else, so it works offline).
enum Layout {
    enum Section { case runs, charts, none }

    static func page(title: String, section: Section, storePath: String, body: HTML) -> HTML {
        func navLink(_ label: String, _ href: String, _ target: Section) -> HTML {
            target == section ? "<a class=\"current\" href=\"\(href)\">\(label)</a>" : "<a href=\"\(href)\">\(label)</a>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Sluice traces</title>
            <style>\(style)</style>
            </head>
            <body>
            <header><span class="brand">Sluice traces</span><nav>\(navLink("Runs", "/", .runs))\(navLink("Charts", "/charts", .charts))</nav>\
            <span class="store" title="the store this viewer reads">\(storePath)</span></header>
            <main>
            \(body)
            </main>
            </body>
            </html>

            """
    }

    /// A page that says what went wrong with the request, with its status.
    static func problem(status: Int, title: String, storePath: String, message: String) -> ViewerPage {
        ViewerPage(status: status, html: page(title: title, section: .none, storePath: storePath, body: """
            <h1>\(title)</h1>
            <p class="problem">\(message)</p>
            <p><a href="/">Back to the runs</a></p>
            """))
    }

    /// A status as a coloured label.
    static func badge(_ status: String) -> HTML {
        let tone: HTML = switch status {
        case "ok", "pass": "good"
        case "error", "blocked", "interrupted": "bad"
        case "running", "in_flight": "busy"
        case "cancelled", "flagged", "redacted": "warn"
        default: "plain"
        }
        return "<span class=\"badge \(tone)\">\(status)</span>"
    }

    private static let style: HTML = """
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2430;background:#f5f6f8}
        header{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#1f2a44;color:#fff}
        header .brand{font-weight:600;font-size:16px}
        header nav a{color:#c9d3ea;text-decoration:none;margin-right:16px}
        header nav a.current,header nav a:hover{color:#fff;border-bottom:2px solid #7aa2ff}
        header .store{margin-left:auto;color:#9aa6c2;font:12px ui-monospace,"DejaVu Sans Mono",monospace}
        main{max-width:1200px;margin:0 auto;padding:20px 24px 48px}
        h1{font-size:20px;margin:4px 0 14px}
        h2{font-size:16px;margin:28px 0 10px}
        a{color:#2557c7}
        section.card,form.filters,div.call{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px 16px;margin-bottom:14px}
        form.filters{display:flex;flex-wrap:wrap;gap:10px 14px;align-items:flex-end}
        form.filters label{display:flex;flex-direction:column;font-size:12px;color:#5a6275;gap:3px}
        form.filters input,form.filters select{font:inherit;padding:5px 7px;border:1px solid #c5cbd6;border-radius:5px;background:#fff;min-width:120px}
        form.filters input[type=search]{min-width:220px}
        form.filters a.clear{padding-bottom:7px}
        form.filters button{font:inherit;padding:6px 16px;border:0;border-radius:5px;background:#2557c7;color:#fff;cursor:pointer}
        table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde1e8;border-radius:8px;overflow:hidden}
        th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #eceef2;vertical-align:top}
        th{background:#f0f2f6;font-weight:600;font-size:12px;color:#4a5266}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
        code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px}
        pre{white-space:pre-wrap;word-break:break-word;background:#f7f8fa;border:1px solid #e4e7ec;border-radius:6px;padding:8px 10px;margin:4px 0 8px;max-height:420px;overflow:auto}
        .badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
        .badge.good{background:#dcf3e3;color:#17663a}.badge.bad{background:#fbe0e0;color:#a32020}
        .badge.busy{background:#e0e9fb;color:#23489c}.badge.warn{background:#fdf0d5;color:#8a5a00}.badge.plain{background:#eceef2;color:#4a5266}
        .summary{color:#5a6275;margin:6px 0 10px}
        .pager{display:flex;gap:16px;margin-top:12px}
        .problem{background:#fff4f4;border:1px solid #f1c4c4;border-radius:6px;padding:10px 12px}
        dl.facts{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:4px 16px;margin:0}
        dl.facts dt{color:#5a6275}dl.facts dd{margin:0}
        .waterfall{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:8px 0}
        .span-row{display:grid;grid-template-columns:300px 1fr 80px;align-items:center;gap:10px;padding:3px 14px}
        .span-row:hover{background:#f5f7fb}
        .span-label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .span-label .kind{color:#7a8296;font-size:12px;margin-right:4px}
        .track{position:relative;height:16px;background:#f1f3f7;border-radius:3px}
        .bar{position:absolute;top:2px;height:12px;border-radius:3px;background:#4f7be0;min-width:2px}
        .bar.error{background:#d64545}.bar.open{background:repeating-linear-gradient(45deg,#9bb3ea 0 6px,#c5d4f5 6px 12px)}
        .span-time{text-align:right;color:#4a5266;font-variant-numeric:tabular-nums;font-size:12px}
        .axis{display:grid;grid-template-columns:300px 1fr 80px;gap:10px;padding:0 14px 4px;color:#7a8296;font-size:11px}
        .axis div{display:flex;justify-content:space-between}
        div.call h3{font-size:14px;margin:0 0 6px}
        div.call .meta{color:#5a6275;font-size:12.5px;margin-bottom:6px}
        .role{font-size:11px;font-weight:600;text-transform:uppercase;color:#6a7390;letter-spacing:.04em}
        .chart{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px}
        .chart svg{width:100%;height:auto;display:block}
        .empty{color:#5a6275;font-style:italic}
        """
}
