import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// One HTTP request with a hard deadline for the whole exchange, cancellable from Swift concurrency,
/// with transport failures turned into `ProviderError`s that name the URL.
enum HTTPExchange {
    static func send(_ request: URLRequest, on session: URLSession, timeout: Double) async throws -> (Data, URLResponse) {
        let url = request.url?.absoluteString ?? "the server"
        let exchange = Exchange()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: request) { data, response, error in
                    if let error {
                        exchange.finish(.failure(transportError(error, url: url, timeout: timeout)))
                    } else if let response {
                        exchange.finish(.success((data ?? Data(), response)))
                    } else {
                        exchange.finish(.failure(ProviderError(.transport, "no response from \(url)")))
                    }
                }
                exchange.start(task, continuation)
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                    exchange.finish(.failure(timedOut(url: url, timeout: timeout)))
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

    static func transportError(_ error: Error, url: String, timeout: Double) -> Error {
        guard let urlError = error as? URLError else {
            return ProviderError(.transport, "request to \(url) failed: \(error.localizedDescription)")
        }
        switch urlError.code {
        case .timedOut:
            return timedOut(url: url, timeout: timeout)
        case .cancelled:
            return CancellationError()
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet, .networkConnectionLost,
             .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
             .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            return ProviderError(.transport, "could not connect to \(url): \(urlError.localizedDescription)")
        default:
            return ProviderError(.transport, "request to \(url) failed: \(urlError.localizedDescription)")
        }
    }

    /// Resumes the continuation exactly once, whichever comes first: the reply, the deadline, or cancellation.
    private final class Exchange: @unchecked Sendable {
        private let lock = NSLock()
        private var task: URLSessionDataTask?
        private var continuation: CheckedContinuation<(Data, URLResponse), Error>?
        private var outcome: Result<(Data, URLResponse), Error>?

        func start(_ task: URLSessionDataTask, _ continuation: CheckedContinuation<(Data, URLResponse), Error>) {
            let early: Result<(Data, URLResponse), Error>? = lock.withLock {
                if let outcome { return outcome }
                self.task = task
                self.continuation = continuation
                return nil
            }
            if let early {
                task.cancel()
                continuation.resume(with: early)
            }
        }

        func finish(_ result: Result<(Data, URLResponse), Error>) {
            let (waiting, task): (CheckedContinuation<(Data, URLResponse), Error>?, URLSessionDataTask?) = lock.withLock {
                guard outcome == nil else { return (nil, nil) }
                outcome = result
                defer { continuation = nil; self.task = nil }
                return (continuation, self.task)
            }
            guard let waiting else { return }
            if case .failure = result { task?.cancel() }
            waiting.resume(with: result)
        }
    }
}
