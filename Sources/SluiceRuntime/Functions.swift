import Foundation
import SluiceSemantics
import SluiceSyntax

extension RunContext {
    /// A built-in function or filter; `x | f(a)` arrives here as `f(x, a)`. One case per entry of
    /// `BuiltinFunction`, the table the checker uses. Trust flows through every function: only
    /// a fencing step (`fenced`, `json`) or `trusted` as the last one makes text safe for
    /// instructions; anything else made from fenced text is untrusted again (a piece or a
    /// transformation of a fenced block is no longer fenced).
    func callBuiltin(_ name: String, _ args: [Value], span: Span, file: SourceFile) throws -> Value {
        guard let function = BuiltinFunction(rawValue: name) else { throw unresolved(name, span, file) }
        func fail(_ message: String) -> RuntimeError { RuntimeError(.script, "`\(name)`: \(message)", file: file, span: span) }
        guard function.arity.contains(args.count) else {
            let range = function.arity
            let expected = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
            throw fail("takes \(expected) argument\(range.upperBound == 1 ? "" : "s"), got \(args.count)")
        }
        func mapText(_ transform: (String) -> String) -> Value { .string(transform(args[0].text), args[0].trust) }
        func whole(_ value: Value) throws -> Int {
            guard case .number(let n) = value else { throw fail("needs a whole number, got \(value.typeName)") }
            guard let count = exactInt(n), count >= 0 else { throw fail("needs a whole number, got \(displayNumber(n))") }
            return count
        }
        let result: Value
        switch function {
        case .flagged:
            guard let guardName = args.first?.text else { return .bool(anyFlag) }
            guard program.guards[guardName] != nil else {
                throw fail("no guard named `\(guardName)`")
            }
            return .bool(hasFlag(guardName: guardName))
        case .len:
            switch args[0] {
            case .string(let s, _): result = .number(Double(s.count))
            case .list(let items): result = .number(Double(items.count))
            case .record(let members): result = .number(Double(members.count))
            case .null: result = .number(0)
            case let other: result = .number(Double(other.text.count))
            }
        case .upper: result = mapText { $0.uppercased() }
        case .lower: result = mapText { $0.lowercased() }
        case .trim: result = mapText { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        case .text, .str: result = mapText { $0 }
        case .join:
            let separator = args.count > 1 ? args[1].text : "\n"
            result = .string(items(args[0]).map(\.text).joined(separator: separator), args[0].trust.combined(with: args.count > 1 ? args[1].trust : .trusted))
        case .numbered:
            let lines = items(args[0]).enumerated().map { i, item in
                if let source = item.member("source"), item.member("text") != nil { "[\(i + 1)] (\(source.text)) \(item.text)" }
                else { "\(i + 1). \(item.text)" }
            }
            result = .string(lines.joined(separator: "\n"), args[0].trust)
        case .fenced:
            return .string(fence(args[0].text), args[0].trust == .trusted ? .trusted : .fenced)
        case .json:
            return .string(args[0].json.serialized(), args[0].trust == .trusted ? .trusted : .fenced)
        case .trusted:
            return args[0].withTrust(.trusted)
        case .lines:
            let trust = args[0].trust
            result = .list(args[0].text.split(separator: "\n", omittingEmptySubsequences: false).map { .string(String($0), trust) })
        case .first, .last:
            let list = items(args[0])
            result = (function == .first ? list.first : list.last) ?? .null
        case .num:
            if case .number = args[0] { return args[0] }
            guard let n = Double(args[0].text.trimmingCharacters(in: .whitespaces)), n.isFinite else {
                throw fail("\"\(args[0].text)\" is not a number")
            }
            return .number(n)
        case .contains:
            if case .list(let list) = args[0] { return .bool(list.contains { valuesEqual($0, args[1]) }) }
            return .bool(args[0].text.contains(args[1].text))
        case .keys:
            // Keys come from the data: they are as trusted as the record is (a reply's, not at all).
            guard case .record(let members) = args[0] else {
                if case .reply(let r) = args[0], case .object(let o)? = r.json { return .list(o.map { .string($0.key, .untrusted) }) }
                throw fail("needs a record, got \(args[0].typeName)")
            }
            let trust = args[0].trust
            result = .list(members.map { .string($0.key, trust) })
        case .default:
            if case .null = args[0] { return args[1] }
            return args[0]
        case .truncate:
            let n = try whole(args[1])
            result = .string(String(args[0].text.prefix(n)), args[0].trust)
        case .take:
            let n = try whole(args[1])
            let list = items(args[0])
            if let estimate, let last = list.last, list.count < n {
                // A dry run does not know how long a reply's list will be (a synthetic one has one
                // item): `take` declares the most, so the estimate counts that many.
                estimate.boundDeclared(n)
                result = .list(list + Array(repeating: last, count: min(n, 1_000) - min(list.count, 1_000)))
            } else {
                result = .list(Array(list.prefix(n)))
            }
        }
        return result.demotingFenced
    }

    private func items(_ value: Value) -> [Value] {
        switch value {
        case .list(let items): items
        case .null: []
        default: [value]
        }
    }

    /// A built-in metric, a number in 0...1: one case per entry of `BuiltinMetric`. What a check
    /// found (schema errors, a latency, a program's output) goes into the score span's `detail`.
    func metric(_ metric: BuiltinMetric, _ value: Value, _ use: StageUse, _ frame: inout Frame,
                detail: inout JSONDetail) async throws -> Double {
        let file = frame.file, span = use.span
        func fail(_ message: String) -> RuntimeError { RuntimeError(.script, "metric `\(metric.rawValue)`: \(message)", file: file, span: span) }
        guard metric.arity.contains(use.args.count) else { throw fail("takes \(metric.arity.lowerBound) to \(metric.arity.upperBound) arguments") }
        // `similarity`'s second argument names a model: it is not a value to evaluate.
        var args: [Value] = []
        for arg in metric == .similarity ? [] : use.args { args.append(try await eval(arg.value, &frame)) }
        let text = value.text
        switch metric {
        case .similarity:
            return try await similarity(value, expected: try await eval(use.args[0].value, &frame).text, use, file: file, budget: frame.budget)
        case .exact:
            return ExactMatch.score(reference: args[0].text, prediction: text)
        case .bleu:
            return BLEU.sentence(reference: args[0].text, prediction: text) / 100
        case .chrf:
            return ChrF.sentence(reference: args[0].text, prediction: text) / 100
        case .rouge1, .rouge2, .rougeL, .rougeLsum:
            guard let kind = ROUGE.Kind(rawValue: metric.rawValue) else { preconditionFailure("every ROUGE metric is a ROUGE.Kind") }
            var stemming = false
            if args.count == 2 {
                guard case .bool(let stem) = args[1] else { throw fail("the second argument says whether to stem words: `true` or `false`") }
                stemming = stem
            }
            return ROUGE.score(kind, reference: args[0].text, prediction: text, stemming: stemming).fmeasure
        case .contains:
            return text.contains(args[0].text) ? 1 : 0
        case .regex:
            guard let regex = try? NSRegularExpression(pattern: args[0].text) else { throw fail("`\(args[0].text)` is not a valid regular expression") }
            return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil ? 0 : 1
        case .json_valid:
            if case .reply(let r) = value { return parseReplyJSON(r.text) == nil ? 0 : 1 }
            if case .string(let s, _) = value { return parseReplyJSON(s) == nil ? 0 : 1 }
            return 1
        case .length:
            guard case .number(let low) = args[0] else { throw fail("takes a minimum and an optional maximum length") }
            var high = Double.infinity
            if args.count == 2 {
                guard case .number(let h) = args[1] else { throw fail("the maximum must be a number") }
                high = h
            }
            let length = Double(text.count)
            return length >= low && length <= high ? 1 : 0
        case .schema_valid:
            guard let schema = program.schemas[BindingSite(file, use.args[0].value.span)] else {
                throw RuntimeError(.script, "internal error: the checker did not compile the schema file of `schema_valid`", file: file, span: span,
                                   help: "please report this script; `sluice check` should have read the file")
            }
            detail["schema"] = .string(schema.path)
            let (json, problems, _) = check(value, against: .schemaFile(schema))
            guard json != nil, problems.isEmpty else {
                detail["errors"] = .array(problems.prefix(Self.maxListedErrors).map { .string($0) })
                return 0
            }
            return 1
        case .latency:
            guard case .number(let most) = args[0] else { throw fail("takes the most milliseconds, a number, as in `latency(2000)`") }
            // A reply is bounded by its own call; anything else by the run so far.
            let milliseconds: Double
            if case .reply(let reply) = value { milliseconds = reply.latencyMs } else { milliseconds = (effects.clock.now() - startedAt) * 1000 }
            detail["of"] = .string(value.isReply ? "call" : "run")
            detail["latency_ms"] = .number(milliseconds)
            return milliseconds <= most ? 1 : 0
        case .cost:
            guard case .money(let most) = args[0] else { throw fail("takes the most money, as in `cost($0.01)`") }
            let dollars: Double
            if case .reply(let reply) = value { dollars = reply.cost } else { dollars = ledger.spentDollars }
            detail["of"] = .string(value.isReply ? "call" : "run")
            detail["cost"] = .number(dollars)
            return dollars <= most ? 1 : 0
        case .syntax_valid, .code_runs, .passes_tests:
            return try await codeMetric(metric, code: codeOfReply(text), args, fail: fail, detail: &detail)
        }
    }

    /// `syntax_valid(LANG)`, `code_runs(LANG [, SECONDS [, MEGABYTES]])` and
    /// `passes_tests(LANG, TESTS [, SECONDS [, MEGABYTES]])` through the injected code runner.
    /// `passes_tests` runs the code followed by each test (a string, or a list of them) as a
    /// program of its own and scores the fraction that exit 0.
    private func codeMetric(_ metric: BuiltinMetric, code: String, _ args: [Value], fail: (String) -> RuntimeError,
                            detail: inout JSONDetail) async throws -> Double {
        guard let language = CodeLanguage(rawValue: args[0].text) else {
            throw fail("no code checks for `\(args[0].text)`; the languages are " + CodeLanguage.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let limitsStart = metric == .passes_tests ? 2 : 1
        func limit(_ index: Int, _ what: String, default fallback: Double, most: Double) throws -> Double {
            guard args.count > index else { return fallback }
            guard case .number(let n) = args[index], n > 0, n <= most else { throw fail("\(what) must be a number above 0, at most \(displayNumber(most))") }
            return n
        }
        let seconds = try limit(limitsStart, "the time limit in seconds", default: BuiltinMetric.defaultCodeSeconds, most: 600)
        let megabytes = try limit(limitsStart + 1, "the memory limit in megabytes", default: BuiltinMetric.defaultCodeMegabytes, most: 65_536)
        var programs = [code]
        if metric == .passes_tests {
            let tests: [String]
            switch args[1] {
            case .list(let items): tests = items.map(\.text)
            case let single: tests = [single.text]
            }
            guard !tests.isEmpty else { throw fail("has no tests to run: give a test (code after the program, e.g. `assert f(2) == 4`) or a list of them") }
            programs = tests.map { code + "\n\n" + $0 + "\n" }
        }
        detail["language"] = .string(language.rawValue)
        // A dry run estimates cost: it runs no code, and takes every check to pass.
        if estimate != nil { return 1 }
        guard let runner = effects.code else {
            throw fail("this host runs no code (no code runner was given to the interpreter)")
        }
        var results: [CodeRunResult] = []
        for program in programs {
            do {
                results.append(try await runner.run(CodeRun(language: language, code: program, mode: metric == .syntax_valid ? .syntax : .run,
                                                            timeLimit: seconds, memoryLimit: Int(megabytes * 1_048_576))))
            } catch let error as CodeRunnerError {
                throw fail(error.message)
            }
        }
        let outcomes: [JSONValue] = results.map { result in
            var fields: [(String, JSONValue)] = [("outcome", .string(result.outcome.rawValue)), ("ms", .number(result.durationMs.rounded()))]
            if let code = result.exitCode { fields.append(("exit", .number(Double(code)))) }
            if result.outcome != .passed, !result.output.isEmpty { fields.append(("output", .string(result.output))) }
            return .object(fields)
        }
        if metric == .passes_tests { detail["tests"] = .array(outcomes) } else if let only = outcomes.first { detail["result"] = only }
        return Double(results.filter { $0.outcome == .passed }.count) / Double(results.count)
    }
}
