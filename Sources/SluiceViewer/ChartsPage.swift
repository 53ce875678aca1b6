import Foundation
import SluiceServices

/// `/charts`: the cost per day and the distribution of run durations of the runs the filters
/// select, drawn as SVG on the server (no script, nothing fetched).
struct ChartsPage {
    let query: RunListQuery
    let facets: ViewerFacets
    let dailyCosts: [DailyCost]
    /// Seconds, shortest first.
    let durations: [Double]

    /// The most days the cost chart draws: the latest ones.
    static let maximumDays = 90

    var body: HTML {
        """
        <h1>Charts</h1>
        \(FilterForm(query: query, facets: facets, action: "/charts").body)
        <p class="summary"><a href="\(Display.link("/", query.fields()))">the runs these charts show</a></p>
        <h2>Cost per day</h2>
        \(costChart)
        <h2>Latency distribution</h2>
        \(latencyChart)
        """
    }

    // MARK: Cost per day

    private var costChart: HTML {
        guard let first = dailyCosts.first, let last = dailyCosts.last,
              let firstDay = Display.startOfDay(first.day), let lastDay = Display.startOfDay(last.day) else {
            return "<p class=\"empty\">No runs to chart.</p>"
        }
        // Every day from the first to the last, those without runs at zero, so the bars keep time's proportions.
        let byDay = Dictionary(dailyCosts.map { ($0.day, $0) }, uniquingKeysWith: { $1 })
        let dayCount = Int(((lastDay - firstDay) / 86_400).rounded()) + 1
        let shownFrom = max(0, dayCount - Self.maximumDays)
        let days = (shownFrom..<dayCount).map { offset -> DailyCost in
            let day = Display.day(firstDay + Double(offset) * 86_400)
            return byDay[day] ?? DailyCost(day: day, cost: 0, runs: 0)
        }
        let total = dailyCosts.reduce(0) { $0 + $1.cost }, runs = dailyCosts.reduce(0) { $0 + $1.runs }
        let note = shownFrom > 0 ? " The chart shows the latest \(Self.maximumDays) of \(dayCount) days." : ""
        let bars = days.map { day in
            Bar(value: day.cost, label: String(day.day.dropFirst(5)),
                tip: "\(day.day): \(NumberDisplay.money(day.cost)) over \(day.runs == 1 ? "1 run" : "\(day.runs) runs")")
        }
        return """
            <div class="chart" id="cost-per-day">\(BarChart(bars: bars, valueLabel: NumberDisplay.money, caption: "cost (USD) per day, UTC").svg)</div>
            <p class="summary">\(NumberDisplay.money(total)) over \(runs == 1 ? "1 run" : "\(runs) runs") from \(first.day) to \(last.day).\(note)</p>
            """
    }

    // MARK: Latency

    private var latencyChart: HTML {
        guard let longest = durations.last else { return "<p class=\"empty\">No finished runs to chart.</p>" }
        let bins = Histogram(values: durations, longest: longest)
        let bars = bins.counts.enumerated().map { index, count in
            let low = Double(index) * bins.width, high = low + bins.width
            return Bar(value: Double(count), label: Display.duration(low),
                       tip: "\(Display.duration(low)) to \(Display.duration(high)): \(count == 1 ? "1 run" : "\(count) runs")")
        }
        let chart = BarChart(bars: bars, valueLabel: { String(Int($0.rounded())) }, caption: "runs per duration bin of \(Display.duration(bins.width))")
        return """
            <div class="chart" id="latency">\(chart.svg)</div>
            <p class="summary">\(durations.count == 1 ? "1 finished run" : "\(durations.count) finished runs"): \
            median \(Display.duration(Self.percentile(0.5, of: durations))), p95 \(Display.duration(Self.percentile(0.95, of: durations))), \
            longest \(Display.duration(longest)).</p>
            """
    }

    /// The nearest-rank percentile of sorted, non-empty `values`.
    static func percentile(_ fraction: Double, of values: [Double]) -> Double {
        let rank = Int((fraction * Double(values.count)).rounded(.up))
        return values[min(values.count, max(1, rank)) - 1]
    }
}

/// Equal-width bins from 0 that cover every value, about a dozen of them, their width a round number (1, 2 or 5 times a power of ten).
struct Histogram {
    let width: Double
    let counts: [Int]

    init(values: [Double], longest: Double) {
        width = Self.roundStep(max(longest, 0.001) / 12)
        // The last bin includes its upper edge, so the longest value never gets a bin of its own.
        var counts = Array(repeating: 0, count: max(1, Int((longest / width).rounded(.up))))
        for value in values {
            counts[min(counts.count - 1, max(0, Int((value / width).rounded(.down))))] += 1
        }
        self.counts = counts
    }

    /// The smallest of 1, 2, 5 × 10ⁿ that is at least `step`.
    static func roundStep(_ step: Double) -> Double {
        let power = pow(10, (log10(step)).rounded(.down))
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= step * 0.999_999 } ?? 10 * power
    }
}

struct Bar {
    var value: Double
    /// Under the bar (some are left out when they would crowd).
    var label: String
    /// Shown on hover.
    var tip: String
}

/// A vertical bar chart as inline SVG: a y axis from 0 to a round maximum with three grid lines.
struct BarChart {
    let bars: [Bar]
    let valueLabel: (Double) -> String
    let caption: String

    private let width = 900.0, height = 260.0
    private let left = 70.0, right = 16.0, top = 14.0, bottom = 44.0

    var svg: HTML {
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let highest = bars.map(\.value).max() ?? 0
        let ceiling = highest > 0 ? Histogram.roundStep(highest / 4) * 4 : 1
        let slot = plotWidth / Double(max(1, bars.count))
        // A few bars stay bars, not slabs.
        let barWidth = min(48, max(1, slot * 0.8))
        var marks: [HTML] = []
        for step in 0...4 {
            let value = ceiling * Double(step) / 4, y = top + plotHeight * (1 - Double(step) / 4)
            marks.append("""
                <line x1="\(left)" y1="\(y)" x2="\(width - right)" y2="\(y)" stroke="#e4e7ec"/>\
                <text x="\(left - 8)" y="\(y + 4)" text-anchor="end">\(valueLabel(value))</text>
                """)
        }
        // At most about twelve labels under the bars.
        let labelEvery = max(1, Int((Double(bars.count) / 12).rounded(.up)))
        for (index, bar) in bars.enumerated() {
            let x = left + slot * Double(index) + (slot - barWidth) / 2
            let barHeight = plotHeight * bar.value / ceiling
            marks.append("""
                <rect x="\(x)" y="\(top + plotHeight - barHeight)" width="\(barWidth)" height="\(barHeight)" rx="2" fill="#4f7be0">\
                <title>\(bar.tip)</title></rect>
                """)
            if index % labelEvery == 0 {
                marks.append("<text x=\"\(x + barWidth / 2)\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\">\(bar.label)</text>")
            }
        }
        return """
            <svg viewBox="0 0 \(width) \(height)" xmlns="http://www.w3.org/2000/svg" role="img" font-size="11" fill="#4a5266">
            <title>\(caption)</title>
            \(HTML.joined(marks, separator: "\n"))
            <line x1="\(left)" y1="\(top + plotHeight)" x2="\(width - right)" y2="\(top + plotHeight)" stroke="#8a93a6"/>
            <text x="\(left + plotWidth / 2)" y="\(height - 6)" text-anchor="middle">\(caption)</text>
            </svg>
            """
    }
}
