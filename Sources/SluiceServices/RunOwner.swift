import Foundation

/// The process that writes a run, recorded on its row so a reader can tell a run still going from
/// one whose process died without closing it (`kill -9`, a crash, a power cut): that run is
/// reported `interrupted`, never `running` forever. A process is named by its host, the kernel's
/// boot id, its pid and its start time (so a pid reused after the owner died is not taken for it).
struct RunOwner: Sendable, Hashable {
    /// The host name and the pid namespace (`/proc/self/ns/pid`): containers that share a host name
    /// and a store file see different pids, and must not judge each other's runs.
    var host: String
    var boot: String
    var pid: Int
    /// Clock ticks from boot to the process's start (`/proc/PID/stat`, field 22); 0 when unknown.
    var start: Int

    static let current = RunOwner(host: hostAndNamespace(), boot: bootId(),
                                  pid: Int(ProcessInfo.processInfo.processIdentifier),
                                  start: startTime(of: Int(ProcessInfo.processInfo.processIdentifier)) ?? 0)

    /// True only when the owner is known to have ended: same host, and the machine rebooted since,
    /// or no process with its pid and start time runs. A run owned on another host is never judged.
    var isGone: Bool {
        let here = RunOwner.current
        guard host == here.host, !boot.isEmpty, !here.boot.isEmpty else { return false }
        if boot != here.boot { return true }
        if pid == here.pid { return start != here.start }
        guard let started = RunOwner.startTime(of: pid) else { return true }
        return start != 0 && started != start
    }

    private static func hostAndNamespace() -> String {
        let namespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? ""
        return namespace.isEmpty ? ProcessInfo.processInfo.hostName : "\(ProcessInfo.processInfo.hostName) \(namespace)"
    }

    private static func bootId() -> String {
        ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The start time of process `pid`, nil when there is none (or it has already exited, a zombie).
    static func startTime(of pid: Int) -> Int? {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" come the fields from 3 (state) on; the command name may contain spaces.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return Int(fields[19])
    }
}
