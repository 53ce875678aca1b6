import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceSyntax

/// `sluice test --from-traces FILTER`: cases taken from past runs in the store, newest first.
/// FILTER is `key=value` pairs separated by commas: `pipeline` (default: the pipeline under
/// test), `status` (default `ok`; `any` for every status), `file` (the script path the run was
/// made with) and `limit` (the most cases, default 100). A case's inputs are the run's recorded
/// inputs that the pipeline still declares (recorded inputs are as the trace keeps them:
/// redacted and `sensitive` text stays replaced). When the pipeline declares an `expected`
/// input and the run had none, the run's output becomes `expected`: the cases then check the
/// pipeline against what it answered before (a regression test of production traffic).
struct TraceCaseFilter: Equatable {
    static let keys = ["pipeline", "status", "file", "limit"]
    static let defaultLimit = 100

    var pipeline: String?
    var status: String? = "ok"
    var file: String?
    var limit = defaultLimit

    static func parse(_ text: String) throws -> TraceCaseFilter {
        var filter = TraceCaseFilter()
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let equals = part.firstIndex(of: "="), !part[part.index(after: equals)...].isEmpty else {
                throw UsageError("--from-traces takes key=value pairs separated by commas (\(keys.joined(separator: ", "))), got `\(part)`")
            }
            let key = String(part[..<equals]), value = String(part[part.index(after: equals)...])
            switch key {
            case "pipeline": filter.pipeline = value
            case "status": filter.status = value == "any" ? nil : value
            case "file": filter.file = value
            case "limit":
                guard let n = Int(value), n > 0 else { throw UsageError("--from-traces: limit must be a whole number above 0, got `\(value)`") }
                filter.limit = n
            default:
                let hint = closestMatch(to: key, in: keys).map { " (did you mean `\($0)`?)" } ?? ""
                throw UsageError("--from-traces: unknown key `\(key)`\(hint); the keys are \(keys.joined(separator: ", "))")
            }
        }
        return filter
    }
}

extension TestCase {
    /// The cases `filter` selects from the store at `storePath`, for `pipeline` of `program`.
    static func fromTraces(_ filter: TraceCaseFilter, storePath: String, pipeline: String, program: Program) throws -> [TestCase] {
        guard let store = try openStoreForReading(storePath) else {
            throw UsageError("--from-traces: there is no store at \(storePath) yet; run the pipeline first (or pass --db)")
        }
        guard let declared = program.pipelines[pipeline]?.decl else { return [] }
        let parameters = Set(declared.params.map(\.name.text))
        let wanted = filter.pipeline ?? pipeline
        var cases: [TestCase] = []
        let runs: [RunSummary]
        do { runs = try store.listRuns(limit: Int.max) } catch { throw UsageError("cannot read the runs in \(storePath): \(error)") }
        for run in runs where cases.count < filter.limit {
            guard run.pipeline == wanted, filter.status.map({ $0 == run.status }) ?? true,
                  filter.file.map({ normalizedPath($0) == normalizedPath(run.file) }) ?? true else { continue }
            guard let detail = try store.run(id: run.id), case .object(let recorded) = detail.inputs else { continue }
            var inputs: [String: JSONValue] = [:]
            for (key, value) in recorded where parameters.contains(key) { inputs[key] = value }
            if parameters.contains("expected"), inputs["expected"] == nil || inputs["expected"] == .null,
               let output = detail.output, output != .null {
                inputs["expected"] = output
            }
            cases.append(TestCase(line: cases.count + 1, inputs: inputs, sourceRun: run.id))
        }
        guard !cases.isEmpty else {
            throw UsageError("--from-traces: no run in \(storePath) matches (pipeline=\(wanted)"
                             + (filter.status.map { ", status=\($0)" } ?? "") + (filter.file.map { ", file=\($0)" } ?? "") + ")")
        }
        return cases
    }
}
