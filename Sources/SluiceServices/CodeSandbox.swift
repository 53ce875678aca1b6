import Foundation
import SluiceRuntime
import SluiceSemantics

/// Runs the code metrics' programs on Linux, without root, as isolated as an unprivileged
/// process can make them. What it guarantees, and how:
/// - **No network**: the program runs in a new network namespace (`unshare -r -n`, a user
///   namespace mapping the caller to root inside it), which has only a loopback device that is
///   down. When the host forbids unprivileged user namespaces the program is not run at all:
///   the metric fails naming why (it never runs code with the network). A syntax check executes
///   nothing and runs without the namespace then.
/// - **Time**: wall-clock via coreutils `timeout` (TERM, then KILL a second later, to the
///   program's whole process group), backed by `RLIMIT_CPU` a second above it.
/// - **Memory**: `RLIMIT_AS` (address space) through `prlimit`; an allocation past it fails
///   (Python raises `MemoryError`, the program exits non-zero).
/// - **Files**: a fresh, private (0700) temporary folder as working directory and `HOME`, deleted
///   afterwards; files it writes are at most 16 MB (`RLIMIT_FSIZE`), no core dumps.
/// - **Environment**: only `PATH`, `HOME`, `TMPDIR` and `LANG`: no API key or other variable of
///   the caller reaches the program.
/// Not guaranteed: the program runs as the calling user and can read what that user can read
/// (there is no file-system isolation without root or a container runtime), and it can start
/// processes (`RLIMIT_NPROC` counts every process of the user, so it is not set).
public final class SandboxCodeRunner: CodeRunner, @unchecked Sendable {
    /// The most bytes of a program's output kept for the trace (its end).
    public static let outputLimit = 2_000
    static let fileSizeLimit = 16 * 1_048_576

    private let lock = NSLock()
    private var isolation: Bool?
    private var interpreters: [CodeLanguage: String] = [:]

    public init() {}

    public func run(_ request: CodeRun) async throws -> CodeRunResult {
        let isolated = try await networkIsolationWorks()
        if request.mode == .run, !isolated {
            throw CodeRunnerError("code is not run: this host does not let an unprivileged process create a network namespace "
                                  + "(`unshare -r -n` failed; user namespaces are disabled), so the program could reach the network")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-code-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent(request.language == .python ? "main.py" : "main.sh")
        try Data(request.code.utf8).write(to: source)
        let interpreter = try await interpreterPath(request.language)
        let program: [String]
        switch (request.language, request.mode) {
        case (.python, .syntax): program = [interpreter, "-m", "py_compile", source.path]
        case (.python, .run): program = [interpreter, source.path]
        case (.bash, .syntax): program = [interpreter, "-n", source.path]
        case (.bash, .run): program = [interpreter, source.path]
        }
        // The CPU limit is a second above the wall-clock one, so a busy loop is stopped by the
        // wall clock (reported as a time-out) and the CPU limit only backs it up.
        let cpuSeconds = Int(request.timeLimit.rounded(.up)) + 1
        let limits = ["/usr/bin/env", "prlimit", "--as=\(request.memoryLimit)", "--cpu=\(cpuSeconds)",
                      "--fsize=\(Self.fileSizeLimit)", "--core=0", "--"]
        let sandbox = isolated ? ["unshare", "-r", "-n", "--"] : []
        let command = ["timeout", "--signal=TERM", "--kill-after=1", String(format: "%.3f", request.timeLimit)] + sandbox + limits + program
        let started = Date()
        let (status, signalled, output) = try await Self.execute(command, in: folder)
        let durationMs = Date().timeIntervalSince(started) * 1000
        let outcome: CodeRunResult.Outcome
        let ranOut = durationMs >= request.timeLimit * 1000
        if status == 124 || (ranOut && (signalled || status > 128)) {
            outcome = .timedOut
        } else if signalled || status > 128 {
            outcome = .killed
        } else {
            outcome = status == 0 ? .passed : .failed
        }
        return CodeRunResult(outcome: outcome, exitCode: signalled ? nil : status,
                             output: output.replacingOccurrences(of: folder.path + "/", with: ""), durationMs: durationMs)
    }

    /// Whether `unshare -r -n` works here (asked once).
    private func networkIsolationWorks() async throws -> Bool {
        if let known = lock.withLock({ isolation }) { return known }
        let scratch = FileManager.default.temporaryDirectory
        let works = (try? await Self.execute(["unshare", "-r", "-n", "--", "true"], in: scratch))?.status == 0
        lock.withLock { isolation = works }
        return works
    }

    /// The interpreter's absolute path, found once on the caller's PATH; for Python, the real
    /// executable (a version manager's shim would need the environment the sandbox withholds).
    private func interpreterPath(_ language: CodeLanguage) async throws -> String {
        if let known = lock.withLock({ interpreters[language] }) { return known }
        let scratch = FileManager.default.temporaryDirectory
        let found: String
        switch language {
        case .python:
            let (status, _, output) = try await Self.execute(["python3", "-c", "import sys; print(sys.executable)"], in: scratch,
                                                             environment: ProcessInfo.processInfo.environment)
            found = output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard status == 0, found.hasPrefix("/") else { throw CodeRunnerError("no Python 3 to check Python code with: `python3` is not on PATH") }
        case .bash:
            guard let path = ["/bin/bash", "/usr/bin/bash"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw CodeRunnerError("no bash to check shell code with")
            }
            found = path
        }
        lock.withLock { interpreters[language] = found }
        return found
    }

    /// Runs `command` (looked up on PATH) in `folder` with standard input empty; returns its exit
    /// status (or signal), whether a signal ended it, and the end of what it wrote.
    static func execute(_ command: [String], in folder: URL, environment: [String: String]? = nil) async throws
        -> (status: Int32, signalled: Bool, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = folder
        process.environment = environment ?? [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": folder.path, "TMPDIR": folder.path, "LANG": "C.UTF-8",
        ]
        // Output goes to a file outside the folder: a pipe could fill and stall the program.
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-code-out-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outputFile.path, contents: nil, attributes: [.posixPermissions: 0o600])
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let handle = try FileHandle(forWritingTo: outputFile)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        // A cancelled run stops its program (`timeout` passes the TERM on to the program's group).
        let finished: (Int32, Process.TerminationReason) = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                process.terminationHandler = { done in continuation.resume(returning: (done.terminationStatus, done.terminationReason)) }
                do { try process.run() } catch {
                    process.terminationHandler = nil
                    continuation.resume(throwing: CodeRunnerError("cannot start `\(command.first ?? "")`: \(error.localizedDescription)"))
                }
            }
        } onCancel: {
            if process.isRunning { process.terminate() }
        }
        try? handle.close()
        let bytes = (try? Data(contentsOf: outputFile)) ?? Data()
        let tail = String(decoding: bytes.suffix(outputLimit), as: UTF8.self)
        return (finished.0, finished.1 == .uncaughtSignal, tail)
    }
}
