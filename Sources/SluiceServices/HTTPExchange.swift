import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// The HTTP client of the providers, over libcurl (see `CurlTransport` for why not URLSession).
///
/// Every exchange has a hard deadline for the whole exchange (the model's `timeout`) and a connect
/// deadline (the model's `reliability.connectTimeout`). Exchanges are cancellable from Swift
/// concurrency; transport failures become `ProviderError`s that name the URL.
final class HTTPClient: Sendable {
    struct Reply: Sendable {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        /// The whole body, or, for a streamed 2xx reply, nothing (it went to `onBody`).
        var body: Data
        /// True when the body went to `onBody` as it arrived.
        var streamed: Bool
    }

    /// Receives a 2xx body in pieces, in order. Throwing ends the exchange with that error.
    typealias BodySink = @Sendable (Data) throws -> Void

    /// Sends `request`. When `onBody` is given and the reply is 2xx with a body that is not JSON
    /// (a server that ignores `stream: true` answers with plain JSON, which is then returned whole),
    /// the body goes to `onBody` as it arrives.
    func send(_ request: URLRequest, timeout: Double, connectTimeout: Double?, onBody: BodySink? = nil) async throws -> Reply {
        let response = try await CurlTransport.perform(request, timeout: timeout, connectTimeout: connectTimeout, onBody: onBody)
        return Reply(status: response.status, headers: response.headers, body: response.body, streamed: response.streamed)
    }

    static func timedOut(url: String, timeout: Double) -> ProviderError {
        ProviderError(.transport, "no reply from \(url) within \(JSONValue.formatNumber(timeout))s (the model's timeout)")
    }

    static func connectTimedOut(url: String, timeout: Double) -> ProviderError {
        ProviderError(.transport, "could not connect to \(url) within \(JSONValue.formatNumber(timeout))s (the model's connect timeout)")
    }
}
