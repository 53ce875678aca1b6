import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime
import SluiceSemantics

/// Sends fired alerts to their targets: a line on standard error, or a JSON POST to a webhook,
/// retried with backoff, all within one short bound so a run's process never waits long for a
/// notification. What became of each is returned (and recorded by the caller).
public struct AlertNotifier: Sendable {
    /// A webhook that could not be reached: one per webhook, however many alerts it missed.
    public struct Failure: Sendable, Equatable {
        public var webhook: String
        public var alerts: [String]
        public var error: String
    }

    /// How long all the webhook posts of one run may take in all, retries included.
    public static let defaultBound: Double = 1.5
    /// Tries of one post, and the wait before the second (doubled after).
    static let tries = 3
    static let firstBackoff = 0.2

    let printLine: @Sendable (String) -> Void
    let clock: any Clock
    let bound: Double

    /// `printLine` writes one line to standard error.
    public init(printLine: @escaping @Sendable (String) -> Void, clock: any Clock = SystemClock(), bound: Double = AlertNotifier.defaultBound) {
        self.printLine = printLine; self.clock = clock; self.bound = bound
    }

    /// Notifies every target of every alert (standard error at once; webhooks one after another
    /// within the bound). Returns, per alert id, what became of each target, and the webhooks
    /// that failed.
    public func notify(_ fired: [(id: Int, alert: FiredAlert)], targets: [AlertTarget]) async -> (outcomes: [Int: JSONValue], failures: [Failure]) {
        var outcomes: [Int: [(key: String, value: JSONValue)]] = [:]
        var failures: [Failure] = []
        let deadline = clock.now() + bound
        for target in targets {
            switch target {
            case .stderr:
                for (id, alert) in fired {
                    printLine(alert.line)
                    outcomes[id, default: []].append(("stderr", .string("printed")))
                }
            case .webhook(let url):
                let name = Self.displayName(url)
                var failure: Failure?
                for (id, alert) in fired {
                    if var known = failure {
                        known.alerts.append(alert.alert)
                        failure = known
                        outcomes[id, default: []].append((name, .string("not sent: \(known.error)")))
                        continue
                    }
                    do {
                        try await post(alert.json, to: url, deadline: deadline)
                        outcomes[id, default: []].append((name, .string("delivered")))
                    } catch {
                        let message = Self.message(error)
                        failure = Failure(webhook: name, alerts: [alert.alert], error: message)
                        outcomes[id, default: []].append((name, .string("failed: \(message)")))
                    }
                }
                if let failure { failures.append(failure) }
            }
        }
        return (outcomes.mapValues { JSONValue.object($0) }, failures)
    }

    /// One POST, tried up to `tries` times with backoff while the deadline allows; a 2xx answer is
    /// delivery.
    private func post(_ body: JSONValue, to url: String, deadline: Double) async throws {
        guard let endpoint = URL(string: url) else { throw ProviderError(.configuration, "not a URL") }
        var wait = Self.firstBackoff
        var attempt = 1
        while true {
            let left = deadline - clock.now()
            guard left > 0.05 else { throw ProviderError(.transport, "no answer within \(JSONValue.formatNumber(bound))s") }
            var request = URLRequest(url: endpoint)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("sluice-alerts", forHTTPHeaderField: "User-Agent")
            request.httpBody = Data(body.serialized().utf8)
            request.timeoutInterval = left.rounded(.up) + 1
            do {
                let reply = try await CurlTransport.perform(request, timeout: left, connectTimeout: min(left, 1), onBody: nil)
                guard (200..<300).contains(reply.status) else {
                    throw ProviderError(.http, "HTTP \(reply.status)", status: reply.status)
                }
                return
            } catch let error as ProviderError {
                // A 4xx other than 408/429 will not change by asking again.
                let final = error.status.map { (400..<500).contains($0) && $0 != 408 && $0 != 429 } ?? false
                guard attempt < Self.tries, !final, clock.now() + wait < deadline else { throw error }
            }
            try await clock.sleep(seconds: wait)
            wait *= 2
            attempt += 1
        }
    }

    /// The webhook as shown in warnings and stored: scheme and host only, since a webhook's path
    /// often holds its secret (a Slack or Teams hook).
    public static func displayName(_ url: String) -> String {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, let host = parts.host else { return "webhook" }
        let port = parts.port.map { ":\($0)" } ?? ""
        return "webhook \(scheme)://\(host)\(port)/…"
    }

    private static func message(_ error: Error) -> String {
        let text = (error as? ProviderError)?.message ?? "\(error)"
        // The transport names the whole URL; keep the path (the hook's secret) out of it.
        return text.replacingOccurrences(of: #"https?://[^\s/]+/\S*"#, with: "the webhook", options: .regularExpression)
            .replacingOccurrences(of: #" \(the model's (connect )?timeout\)"#, with: "", options: .regularExpression)
    }
}
