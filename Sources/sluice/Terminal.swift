import Foundation

/// Where output goes, and whether it may be coloured (a terminal, and NO_COLOR unset).
enum Terminal {
    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }
    static var colorOnStderr: Bool { stderrIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    static func dim(_ text: String) -> String { colorOnStderr ? "\u{1B}[2m\(text)\u{1B}[0m" : text }
    static func bold(_ text: String) -> String { colorOnStderr ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    static func red(_ text: String) -> String { colorOnStderr ? "\u{1B}[31;1m\(text)\u{1B}[0m" : text }
    static func green(_ text: String) -> String { colorOnStderr ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
}

/// A usage or input-file problem: printed as `error: ...`, exit 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension UsageError {
    func exit() -> ExitCode {
        Terminal.error(Terminal.red("error:") + " " + description)
        return Exit.usage
    }
}

import ArgumentParser
