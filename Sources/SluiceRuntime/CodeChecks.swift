import SluiceSemantics

// The code metrics' effect: the interpreter never starts a process. The CLI injects a runner
// that compiles and runs code in a sandbox (`SandboxCodeRunner` in SluiceServices); tests inject
// their own.

/// One piece of code to check.
public struct CodeRun: Sendable, Hashable {
    public enum Mode: Sendable, Hashable {
        /// Parse only (`python3 -m py_compile`, `bash -n`): nothing is executed.
        case syntax
        /// Run the program; it passes when it exits 0 within the limits.
        case run
    }
    public var language: CodeLanguage
    public var code: String
    public var mode: Mode
    /// Wall-clock seconds before the program is killed (CPU seconds are limited to the same).
    public var timeLimit: Double
    /// The most memory (address space) the program may map, in bytes.
    public var memoryLimit: Int
    public init(language: CodeLanguage, code: String, mode: Mode, timeLimit: Double, memoryLimit: Int) {
        self.language = language; self.code = code; self.mode = mode; self.timeLimit = timeLimit; self.memoryLimit = memoryLimit
    }
}

/// How a check of code ended.
public struct CodeRunResult: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        /// Parsed (syntax) or exited 0 (run).
        case passed
        /// A syntax error, or a non-zero exit (a failed assertion, an exception, a memory error).
        case failed
        /// Killed at the time limit.
        case timedOut = "timed_out"
        /// Ended by a signal (the CPU limit's SIGXCPU, a segfault).
        case killed
    }
    public var outcome: Outcome
    public var exitCode: Int32?
    /// The end of what the program wrote to standard error (and output), for the trace.
    public var output: String
    public var durationMs: Double
    public init(outcome: Outcome, exitCode: Int32?, output: String, durationMs: Double) {
        self.outcome = outcome; self.exitCode = exitCode; self.output = output; self.durationMs = durationMs
    }
}

/// Why code could not be checked at all (no interpreter for the language, no sandbox on this
/// host): the metric fails with this message, it does not score 0.
public struct CodeRunnerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public protocol CodeRunner: Sendable {
    func run(_ request: CodeRun) async throws -> CodeRunResult
}

/// The code of a reply: the body of its first Markdown code fence when it has one (models
/// usually fence code), else the whole text.
func codeOfReply(_ text: String) -> String {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let open = lines.firstIndex(where: { $0.trimmingPrefix(while: \.isWhitespace).hasPrefix("```") }) else { return text }
    let fence = lines[open].trimmingPrefix(while: \.isWhitespace).prefix { $0 == "`" }
    let rest = lines[(open + 1)...]
    let close = rest.firstIndex { $0.trimmingPrefix(while: \.isWhitespace).hasPrefix(fence) } ?? rest.endIndex
    return lines[(open + 1)..<close].joined(separator: "\n")
}
