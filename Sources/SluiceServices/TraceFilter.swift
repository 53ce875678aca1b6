import Foundation
import SluiceRuntime

/// Which runs `sluice traces list|stats|export` and the trace viewer look at. Every field left nil matches every run.
public struct TraceFilter: Sendable, Hashable {
    public var pipeline: String?
    public var user: String?
    public var session: String?
    /// One of `TraceFilter.statuses`; `interrupted` includes runs still marked `running` whose process is gone.
    public var status: String?
    /// Seconds since 1970: runs that started at or after `since` and before `until`.
    public var since: Double?
    public var until: Double?
    /// Runs that made at least one model call rendered from this prompt version.
    public var promptVersion: PromptVersion?
    /// Text the run's inputs, output or error contain (ASCII letters in any case); empty matches every run.
    public var search: String?

    public init(pipeline: String? = nil, user: String? = nil, session: String? = nil, status: String? = nil,
                since: Double? = nil, until: Double? = nil, promptVersion: PromptVersion? = nil, search: String? = nil) {
        self.pipeline = pipeline; self.user = user; self.session = session; self.status = status
        self.since = since; self.until = until; self.promptVersion = promptVersion; self.search = search
    }

    /// A prompt and one of its versions (`prompt answer(...) v2` is `answer@2`).
    public struct PromptVersion: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        public var version: Int
        public init(name: String, version: Int) { self.name = name; self.version = version }
        public var description: String { "\(name)@\(version)" }
    }

    /// What a filter value can be wrong about; the CLI names the flag.
    public struct ValueError: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// The statuses a run can have: `TraceRunEnd.Status` (`over_budget` once window budgets record it),
    /// `running` before it ends, `interrupted` when its process died.
    public static let statuses = ["running", "ok", "error", "blocked", "cancelled", "over_budget", "interrupted"]

    /// The statuses that count as a failed run in `traces stats`: `blocked` is a guard doing its work, `cancelled` a stop.
    static let failedStatuses: Set<String> = ["error", "over_budget", "interrupted"]

    public static func parseStatus(_ text: String) throws(ValueError) -> String {
        guard statuses.contains(text) else {
            throw ValueError("'\(text)' is not a run status: use one of \(statuses.joined(separator: ", "))")
        }
        return text
    }

    /// `NAME@N` or `NAME@vN`.
    public static func parsePromptVersion(_ text: String) throws(ValueError) -> PromptVersion {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw ValueError("'\(text)' is not a prompt version: write NAME@N, e.g. answer@2")
        }
        let number = parts[1].hasPrefix("v") ? parts[1].dropFirst() : parts[1]
        guard !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber), let version = Int(number) else {
            throw ValueError("'\(text)' is not a prompt version: the version after @ must be a whole number, e.g. \(parts[0])@2")
        }
        return PromptVersion(name: String(parts[0]), version: version)
    }

    /// A point in time, as seconds since 1970: an ISO 8601 date (`2026-12-01`, midnight UTC) or date
    /// and time (`2026-12-01T09:30`, `2026-12-01T09:30:00Z`, `2026-12-01 09:30:00+02:00`; UTC unless
    /// an offset is given), or a time before `now`: a whole number and a unit, `s`, `m`, `h`, `d` or
    /// `w` (`30m`, `24h`, `7d`).
    public static func parseTime(_ text: String, now: Double) throws(ValueError) -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let ago = relativeSeconds(trimmed) { return now - ago }
        if let absolute = isoSeconds(trimmed) { return absolute }
        throw ValueError("'\(text)' is not a time: use an ISO 8601 date or time (2026-12-01, 2026-12-01T09:30:00Z) "
                         + "or a time ago such as 30m, 24h, 7d")
    }

    private static let unitSeconds: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]

    private static func relativeSeconds(_ text: String) -> Double? {
        guard let unit = text.last, let seconds = unitSeconds[unit] else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int(digits) else { return nil }
        return Double(count) * seconds
    }

    private static func isoSeconds(_ text: String) -> Double? {
        // Dates and times with or without seconds, fractions and an offset; `T` or a space between them.
        let normalized = text.replacingOccurrences(of: " ", with: "T")
        let formats = ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSS",
                       "yyyy-MM-dd'T'HH:mmXXXXX", "yyyy-MM-dd'T'HH:mm:ssXXXXX", "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX"]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.isLenient = false
        for format in formats {
            formatter.dateFormat = format
            if let date = formatter.date(from: normalized) { return date.timeIntervalSince1970 }
        }
        return nil
    }

    // MARK: SQL

    /// The prompt a model call was rendered from, in SQL over `model_calls mc LEFT JOIN spans s ON s.id = mc.span_id`:
    /// a `prompt` or `cascade` span is named after its prompt; a `validate` span records the prompt it re-asks.
    static let promptNameSQL = """
        (CASE WHEN s.kind IN ('prompt', 'cascade') THEN s.name
              WHEN json_valid(s.detail) THEN json_extract(s.detail, '$.prompt') END)
        """

    /// The condition on the `runs` table that selects the runs this filter matches, and its parameters.
    /// `abandoned` (`SQLiteStore.abandonedRuns`) are the runs still `running` in the file whose process is gone:
    /// they are reported, and so filtered, as `interrupted`.
    func runConditions(abandoned: [String: String]) -> (sql: String, parameters: [SQLiteValue]) {
        var conditions: [String] = []
        var parameters: [SQLiteValue] = []
        if let pipeline { conditions.append("runs.pipeline = ?"); parameters.append(.text(pipeline)) }
        if let user { conditions.append("runs.user_id = ?"); parameters.append(.text(user)) }
        if let session { conditions.append("runs.session_id = ?"); parameters.append(.text(session)) }
        if let since { conditions.append("runs.started_at >= ?"); parameters.append(.real(since)) }
        if let until { conditions.append("runs.started_at < ?"); parameters.append(.real(until)) }
        if let status {
            let abandonedIds = SQLiteValue.text(JSONValue.array(abandoned.keys.sorted().map(JSONValue.string)).serialized())
            switch status {
            case "interrupted":
                conditions.append("(runs.status = 'interrupted' OR runs.id IN (SELECT value FROM json_each(?)))")
                parameters.append(abandonedIds)
            case "running":
                conditions.append("(runs.status = 'running' AND runs.id NOT IN (SELECT value FROM json_each(?)))")
                parameters.append(abandonedIds)
            default:
                conditions.append("runs.status = ?"); parameters.append(.text(status))
            }
        }
        if let promptVersion {
            conditions.append("""
                EXISTS (SELECT 1 FROM model_calls mc LEFT JOIN spans s ON s.id = mc.span_id
                        WHERE mc.run_id = runs.id AND mc.prompt_version = ? AND \(Self.promptNameSQL) = ?)
                """)
            parameters += [.int(promptVersion.version), .text(promptVersion.name)]
        }
        if let search, !search.isEmpty {
            // Inputs and output are stored as JSON, where a quote, backslash or newline of the text is escaped:
            // they are searched for the text as it is and as JSON writes it.
            let plain = SQLiteValue.text(Self.likePattern(search))
            let escaped = SQLiteValue.text(Self.likePattern(String(JSONValue.string(search).serialized().dropFirst().dropLast())))
            conditions.append("""
                (runs.inputs LIKE ? ESCAPE '\\' OR runs.inputs LIKE ? ESCAPE '\\' OR runs.output LIKE ? ESCAPE '\\' \
                OR runs.output LIKE ? ESCAPE '\\' OR runs.error LIKE ? ESCAPE '\\')
                """)
            parameters += [plain, escaped, plain, escaped, plain]
        }
        return (conditions.isEmpty ? "1" : conditions.joined(separator: " AND "), parameters)
    }

    /// A LIKE pattern matching any text that contains `text`, with LIKE's own `%`, `_` and the escape `\` taken literally.
    private static func likePattern(_ text: String) -> String {
        var pattern = "%"
        for character in text {
            if character == "%" || character == "_" || character == "\\" { pattern.append("\\") }
            pattern.append(character)
        }
        return pattern + "%"
    }

    /// The filter in words, for "no runs match" messages.
    public var summary: String {
        var parts: [String] = []
        if let pipeline { parts.append("pipeline \(pipeline)") }
        if let user { parts.append("user \(user)") }
        if let session { parts.append("session \(session)") }
        if let status { parts.append("status \(status)") }
        if let promptVersion { parts.append("prompt \(promptVersion)") }
        if let since { parts.append("since \(TraceRenderer.timestamp(since))") }
        if let until { parts.append("until \(TraceRenderer.timestamp(until))") }
        if let search, !search.isEmpty { parts.append("text \"\(search)\"") }
        return parts.joined(separator: ", ")
    }

    public var isEmpty: Bool { self == TraceFilter() }
}
