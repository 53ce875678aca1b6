import Foundation

/// How the viewer writes times, durations and links.
enum Display {
    /// `2026-12-01 20:05:47 UTC`: the store keeps seconds since 1970, shown in UTC whatever the machine's zone.
    static func timestamp(_ seconds: Double) -> String {
        utcFormatter("yyyy-MM-dd HH:mm:ss 'UTC'").string(from: Date(timeIntervalSince1970: seconds))
    }

    /// `yyyy-MM-dd` in UTC.
    static func day(_ seconds: Double) -> String {
        utcFormatter("yyyy-MM-dd").string(from: Date(timeIntervalSince1970: seconds))
    }

    /// The start of a `yyyy-MM-dd` day in UTC, in seconds since 1970; nil when `text` is not such a date.
    static func startOfDay(_ text: String) -> Double? {
        guard text.utf8.count == 10, let date = utcFormatter("yyyy-MM-dd").date(from: text) else { return nil }
        // The formatter accepts some near misses (`2026-02-30`); a real date writes back the same.
        return day(date.timeIntervalSince1970) == text ? date.timeIntervalSince1970 : nil
    }

    /// `850 ms`, `2.40 s`, `3 min 05 s`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 60 { return String(format: "%.2f s", seconds) }
        let whole = Int(seconds.rounded())
        return String(format: "%d min %02d s", whole / 60, whole % 60)
    }

    private static func utcFormatter(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.isLenient = false
        formatter.dateFormat = format
        return formatter
    }

    /// The viewer's link to a run's page; the id is percent-encoded, so any id makes a path of one segment.
    static func runLink(_ id: String) -> String {
        "/runs/" + percentEncoded(id)
    }

    /// `path?name=value&...` with the pairs whose value is empty left out.
    static func link(_ path: String, _ query: [(String, String)]) -> String {
        let pairs = query.filter { !$0.1.isEmpty }.map { percentEncoded($0.0) + "=" + percentEncoded($0.1) }
        return pairs.isEmpty ? path : path + "?" + pairs.joined(separator: "&")
    }

    /// Everything but letters, digits and `-._~` percent-encoded (RFC 3986's unreserved characters).
    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// A query string (`a=1&b=x+y`) as a browser's GET form sends it: `+` is a space, then percent-decoding.
    /// A name given twice keeps its last value; a pair that does not decode is left out.
    static func formFields(_ query: String?) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String? { part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decoded(parts[0]), let value = parts.count > 1 ? decoded(parts[1]) : "" else { continue }
            fields[name] = value
        }
        return fields
    }
}
