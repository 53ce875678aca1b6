import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// An HTTP client for the providers: one `URLSession` with a data delegate (on Linux,
/// `URLSession.bytes` does not exist), so a streamed body can be handed on as it arrives.
///
/// Every exchange has a hard deadline for the whole exchange (the model's `timeout`) and a connect
/// deadline (the model's `reliability.connectTimeout`): the connection counts as made when the
/// session asks for the request body (which it does only once connected, TLS included) or a
/// response arrives. Exchanges are cancellable from Swift concurrency; transport failures become
/// `ProviderError`s that name the URL.
final class HTTPClient: @unchecked Sendable {
    struct Reply: Sendable {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        /// The whole body, or, for a streamed 2xx reply, nothing (it went to `onBody`).
        var body: Data
        /// True when the body went to `onBody` as it arrived.
        var streamed: Bool
    }

    /// Receives a 2xx body in pieces, on one serial queue, in order. Throwing ends the exchange with that error.
    typealias BodySink = @Sendable (Data) throws -> Void

    let session: URLSession
    private let router: TaskRouter

    init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        router = TaskRouter()
        session = URLSession(configuration: configuration, delegate: router, delegateQueue: nil)
    }

    deinit { session.finishTasksAndInvalidate() }

    /// Sends `request`. When `onBody` is given and the reply is 2xx with a body that is not JSON
    /// (a server that ignores `stream: true` answers with plain JSON, which is then returned whole),
    /// the body goes to `onBody` as it arrives.
    func send(_ request: URLRequest, timeout: Double, connectTimeout: Double?, onBody: BodySink? = nil) async throws -> Reply {
        let url = request.url?.absoluteString ?? "the server"
        let exchange = Exchange(url: url, timeout: timeout, connectTimeout: connectTimeout, onBody: onBody)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: request)
                router.register(exchange, for: task)
                exchange.start(task, continuation)
                DispatchQueue.global().asyncAfter(deadline: .now() + max(0, timeout)) {
                    exchange.finish(.failure(HTTPClient.timedOut(url: url, timeout: timeout)))
                }
                if let connectTimeout, connectTimeout > 0, connectTimeout < timeout {
                    DispatchQueue.global().asyncAfter(deadline: .now() + connectTimeout) {
                        exchange.connectDeadlinePassed()
                    }
                }
                task.resume()
            }
        } onCancel: {
            exchange.finish(.failure(CancellationError()))
        }
    }

    static func timedOut(url: String, timeout: Double) -> ProviderError {
        ProviderError(.transport, "no reply from \(url) within \(JSONValue.formatNumber(timeout))s (the model's timeout)")
    }

    static func connectTimedOut(url: String, timeout: Double) -> ProviderError {
        ProviderError(.transport, "could not connect to \(url) within \(JSONValue.formatNumber(timeout))s (the model's connect timeout)")
    }

    static func transportError(_ error: Error, url: String, timeout: Double, received: Int) -> Error {
        guard let urlError = error as? URLError else {
            return ProviderError(.transport, "request to \(url) failed: \(error.localizedDescription)")
        }
        switch urlError.code {
        case .timedOut:
            return timedOut(url: url, timeout: timeout)
        case .cancelled:
            return CancellationError()
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet,
             .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
             .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            return ProviderError(.transport, "could not connect to \(url): \(urlError.localizedDescription)")
        case .networkConnectionLost where received == 0:
            return ProviderError(.transport, "the connection to \(url) was closed before a reply: \(urlError.localizedDescription)")
        case .networkConnectionLost, .cannotParseResponse, .badServerResponse, .zeroByteResource:
            return ProviderError(.transport, "the reply from \(url) was cut off after \(received) bytes: \(urlError.localizedDescription)")
        default:
            return ProviderError(.transport, "request to \(url) failed: \(urlError.localizedDescription)")
        }
    }

    // MARK: - One exchange

    /// The state of one request: resumes its continuation exactly once, whichever comes first —
    /// the reply, a deadline, a failing body sink, or cancellation.
    final class Exchange: @unchecked Sendable {
        let url: String
        let timeout: Double
        let connectTimeout: Double?
        private let onBody: BodySink?
        private let lock = NSLock()
        private var task: URLSessionDataTask?
        private var continuation: CheckedContinuation<Reply, Error>?
        private var done = false
        private var early: Result<Reply, Error>?
        private var connected = false
        private var status = 0
        private var headers: [String: String] = [:]
        private var body = Data()
        private var streaming = false
        private var received = 0

        init(url: String, timeout: Double, connectTimeout: Double?, onBody: BodySink?) {
            self.url = url; self.timeout = timeout; self.connectTimeout = connectTimeout; self.onBody = onBody
        }

        func start(_ task: URLSessionDataTask, _ continuation: CheckedContinuation<Reply, Error>) {
            let early: Result<Reply, Error>? = lock.withLock {
                if done { return self.early }
                self.task = task
                self.continuation = continuation
                return nil
            }
            if let early {
                task.cancel()
                continuation.resume(with: early)
            }
        }

        var isDone: Bool { lock.withLock { done } }

        func didConnect() { lock.withLock { connected = true } }

        func connectDeadlinePassed() {
            let fail = lock.withLock { !connected && !done }
            if fail, let connectTimeout { finish(.failure(HTTPClient.connectTimedOut(url: url, timeout: connectTimeout))) }
        }

        func didReceive(response: URLResponse) {
            lock.withLock {
                connected = true
                let http = response as? HTTPURLResponse
                status = http?.statusCode ?? 0
                var lowered: [String: String] = [:]
                for (key, value) in http?.allHeaderFields ?? [:] {
                    lowered[String(describing: key).lowercased()] = String(describing: value)
                }
                headers = lowered
                let contentType = lowered["content-type"]?.lowercased() ?? ""
                streaming = onBody != nil && (200..<300).contains(status) && !contentType.contains("json")
            }
        }

        func didReceive(data: Data) {
            let sink: BodySink? = lock.withLock {
                if done { return nil }
                received += data.count
                if streaming { return onBody }
                body.append(data)
                return nil
            }
            guard let sink else { return }
            do {
                try sink(data)
            } catch {
                finish(.failure(error))
            }
        }

        func didComplete(error: Error?) {
            if let error {
                let received = lock.withLock { self.received }
                finish(.failure(HTTPClient.transportError(error, url: url, timeout: timeout, received: received)))
                return
            }
            let reply: Reply? = lock.withLock {
                status == 0 ? nil : Reply(status: status, headers: headers, body: body, streamed: streaming)
            }
            if let reply {
                finish(.success(reply))
            } else {
                finish(.failure(ProviderError(.transport, "no response from \(url)")))
            }
        }

        func finish(_ result: Result<Reply, Error>) {
            let (waiting, task): (CheckedContinuation<Reply, Error>?, URLSessionDataTask?) = lock.withLock {
                guard !done else { return (nil, nil) }
                done = true
                early = result
                defer { continuation = nil; self.task = nil }
                return (continuation, self.task)
            }
            if case .failure = result { task?.cancel() }
            waiting?.resume(with: result)
        }
    }

    // MARK: - Delegate

    /// Sends each task's delegate callbacks to its exchange.
    private final class TaskRouter: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        private let lock = NSLock()
        private var exchanges: [Int: Exchange] = [:]

        func register(_ exchange: Exchange, for task: URLSessionTask) {
            lock.withLock { exchanges[task.taskIdentifier] = exchange }
        }

        private func exchange(_ task: URLSessionTask) -> Exchange? {
            lock.withLock { exchanges[task.taskIdentifier] }
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            exchange(dataTask)?.didReceive(response: response)
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard let exchange = exchange(dataTask) else { return }
            exchange.didReceive(data: data)
            if exchange.isDone { dataTask.cancel() }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didSendBodyData bytesSent: Int64, totalBytesSent: Int64,
                        totalBytesExpectedToSend: Int64) {
            exchange(task)?.didConnect()
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            let exchange: Exchange? = lock.withLock { exchanges.removeValue(forKey: task.taskIdentifier) }
            exchange?.didComplete(error: error)
        }
    }
}
