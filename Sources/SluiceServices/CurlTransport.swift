import CCurl
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// HTTP over libcurl: every exchange of the process goes through one connection pool
/// (`CurlPool.shared`), so calls to the same endpoint reuse its connections (keep-alive, TLS
/// sessions, HTTP/2 streams) instead of paying a TCP and TLS handshake each.
///
/// FoundationNetworking's URLSession on Linux keeps a core busy while it waits for a reply
/// (measured here: about half a core of system time for the whole wait), which next to a local
/// model on two cores slows the model several times over. libcurl waits in poll(2) and costs
/// nothing while the server thinks.
enum CurlTransport {
    struct Response {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: Data
        var streamed: Bool
    }

    /// Performs `request`; a 2xx body that is not JSON goes to `onBody` as it arrives when given.
    static func perform(_ request: URLRequest, timeout: Double, connectTimeout: Double?,
                        onBody: (@Sendable (Data) throws -> Void)?) async throws -> Response {
        try await CurlPool.shared.perform(request, timeout: timeout, connectTimeout: connectTimeout, onBody: onBody)
    }
}

/// A bare POST through the same connection pool, with no provider around it: the HTTP floor under
/// every model call (what Benchmarks/providers measures Sluice's own cost above).
public enum PooledHTTP {
    public static func post(_ url: URL, body: Data, headers: [(name: String, value: String)], timeout: Double = 30) async throws
        -> (status: Int, body: Data) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        for header in headers { request.setValue(header.value, forHTTPHeaderField: header.name) }
        request.httpBody = body
        let response = try await CurlTransport.perform(request, timeout: timeout, connectTimeout: nil, onBody: nil)
        return (response.status, response.body)
    }
}

/// One libcurl multi handle and the one thread that drives it, for the life of the process.
///
/// - Connections: the multi handle keeps finished transfers' connections open (keep-alive) and
///   hands them to the next transfer to the same host; HTTPS negotiates HTTP/2 when the server
///   offers it, and a transfer waits for a connection that can multiplex (`PIPEWAIT`) rather than
///   opening another; TLS sessions are shared (a share handle), so even a new connection to a
///   known server resumes its session instead of a full handshake.
/// - Bounds: at most `maxConnectionsPerHost` connections to one host and `maxConnections` in
///   all; transfers beyond them wait inside libcurl for a free connection (their timeout runs
///   meanwhile), so any number of concurrent runs costs no more sockets than that.
/// - Threads: none per call. Callers wait on a continuation; the pool's thread adds their
///   transfers, waits in poll(2) for all of them at once, and resumes each when it ends. libcurl's
///   callbacks, and so `onBody`, run on that thread: a body sink must not block.
/// - A dead pooled connection: one the server has closed while idle is noticed before anything is
///   sent on it (libcurl checks a connection before reusing it) and a new connection is opened.
///   When the server drops it just as the request goes out, so that not a byte of reply came
///   back, libcurl sends the request once more on a fresh connection, POST bodies included: a
///   server that closes a keep-alive connection has not answered (and in the case this is for,
///   not read) the request, and a fresh connection that fails too is an error, never retried
///   again. A request that got any byte of reply is never resent.
/// - Cancelling a task removes its transfer at once (its connection is closed if the exchange
///   was under way) and wakes the thread, rather than at a progress check.
final class CurlPool: @unchecked Sendable {
    struct Configuration: Sendable {
        var maxConnectionsPerHost = 64
        var maxConnections = 256
        /// Idle connections kept for reuse (libcurl closes the oldest beyond this).
        var maxIdleConnections = 64
        /// A PEM file of certificate authorities to trust instead of the system's (tests).
        var certificateAuthorities: String?
    }

    static let shared = CurlPool(Configuration())

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    let configuration: Configuration
    private let lock = NSLock()
    /// Transfers handed in and not yet seen by the pool's thread; under `lock`.
    private var submitted: [Transfer] = []
    /// The multi handle once the thread has started; under `lock` (for `wake`).
    private var multi: UnsafeMutableRawPointer?
    private var started = false

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    func perform(_ request: URLRequest, timeout: Double, connectTimeout: Double?,
                 onBody: (@Sendable (Data) throws -> Void)?) async throws -> CurlTransport.Response {
        let transfer = Transfer(request: request, timeout: timeout, connectTimeout: connectTimeout, onBody: onBody)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CurlTransport.Response, Error>) in
                transfer.continuation = continuation
                submit(transfer)
            }
        } onCancel: {
            transfer.cancel()
            wake()
        }
    }

    private func submit(_ transfer: Transfer) {
        let startThread: Bool = lock.withLock {
            submitted.append(transfer)
            defer { started = true }
            return !started
        }
        if startThread {
            let thread = Thread { [self] in run() }
            thread.name = "sluice-http"
            thread.start()
        } else {
            wake()
        }
    }

    /// Makes the pool's thread look at new and cancelled transfers now. Safe from any thread.
    private func wake() {
        lock.withLock { if let multi { _ = curl_multi_wakeup(multi) } }
    }

    // MARK: The pool's thread

    /// The pool's thread: never returns (the pool lives as long as the process).
    private func run() {
        _ = Self.globalInit
        guard let multi = curl_multi_init() else {
            return failForever("libcurl could not start its connection pool")
        }
        _ = sluice_curl_multi_set_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        _ = sluice_curl_multi_set_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxConnections)
        _ = sluice_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, configuration.maxIdleConnections)
        _ = sluice_curl_multi_set_long(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX)
        // Only this thread uses the share handle, so it needs no lock callbacks.
        let share = curl_share_init()
        if let share {
            _ = sluice_curl_share_set_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
            _ = sluice_curl_share_set_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
        }
        lock.withLock { self.multi = multi }

        var active: [UnsafeMutableRawPointer: Transfer] = [:]
        while true {
            let incoming: [Transfer] = lock.withLock {
                defer { submitted.removeAll() }
                return submitted
            }
            for transfer in incoming {
                if transfer.isCancelled { transfer.complete(.failure(CancellationError())); continue }
                switch transfer.start(share: share, configuration: configuration) {
                case .success(let easy):
                    if curl_multi_add_handle(multi, easy) == CURLM_OK {
                        active[easy] = transfer
                    } else {
                        transfer.end(easy, with: .failure(ProviderError(.transport, "request to \(transfer.url) failed: libcurl could not queue the transfer")))
                    }
                case .failure(let error):
                    transfer.complete(.failure(error))
                }
            }
            for (easy, transfer) in active where transfer.isCancelled {
                curl_multi_remove_handle(multi, easy)
                active[easy] = nil
                transfer.end(easy, with: .failure(CancellationError()))
            }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let transfer = active.removeValue(forKey: easy) else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                transfer.end(easy, with: transfer.finish(code, easy))
            }
            // libcurl shortens the wait to its own next deadline (timeouts, retries); idle, only a
            // new transfer or a cancellation (`wake`) ends it.
            _ = curl_multi_poll(multi, nil, 0, active.isEmpty ? 60_000 : 1000, nil)
        }
    }

    /// Without a multi handle nothing can be sent: every transfer, now and later, fails.
    private func failForever(_ reason: String) {
        while true {
            let incoming: [Transfer] = lock.withLock {
                defer { submitted.removeAll() }
                return submitted
            }
            for transfer in incoming { transfer.complete(.failure(ProviderError(.transport, "request to \(transfer.url) failed: \(reason)"))) }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// One exchange's state, shared with libcurl's callbacks through an unmanaged pointer.
    /// Everything but `cancelled` is touched by the pool's thread only.
    final class Transfer: @unchecked Sendable {
        let request: URLRequest
        let url: String
        let timeout: Double
        let connectTimeout: Double?
        let onBody: (@Sendable (Data) throws -> Void)?
        /// Set before the transfer is submitted; resumed once, by the pool's thread.
        var continuation: CheckedContinuation<CurlTransport.Response, Error>?
        private let lock = NSLock()
        private var cancelled = false
        private var status = 0
        private var headers: [String: String] = [:]
        private var body = Data()
        private var streaming: Bool?
        private var received = 0
        private var sinkError: Error?
        private var headerList: UnsafeMutablePointer<curl_slist>?

        init(request: URLRequest, timeout: Double, connectTimeout: Double?, onBody: (@Sendable (Data) throws -> Void)?) {
            self.request = request
            self.url = request.url?.absoluteString ?? "the server"
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.onBody = onBody
        }

        func cancel() { lock.withLock { cancelled = true } }
        var isCancelled: Bool { lock.withLock { cancelled } }

        func complete(_ result: Result<CurlTransport.Response, Error>) {
            continuation?.resume(with: result)
            continuation = nil
        }

        /// A configured easy handle for this exchange.
        func start(share: UnsafeMutableRawPointer?, configuration: Configuration) -> Result<UnsafeMutableRawPointer, Error> {
            guard let handle = curl_easy_init() else {
                return .failure(ProviderError(.transport, "request to \(url) failed: libcurl could not start a transfer"))
            }
            for (name, value) in request.allHTTPHeaderFields ?? [:] {
                headerList = curl_slist_append(headerList, "\(name): \(value)")
            }
            // Without this, libcurl sends `Expect: 100-continue` for larger bodies and waits for the server's go-ahead.
            headerList = curl_slist_append(headerList, "Expect:")
            let context = Unmanaged.passUnretained(self).toOpaque()
            _ = sluice_curl_set_string(handle, CURLOPT_URL, url)
            _ = sluice_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = sluice_curl_set_slist(handle, CURLOPT_HTTPHEADER, headerList)
            _ = sluice_curl_set_long(handle, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
            // Over HTTPS, wait for a connection being set up to say (in its TLS handshake) whether
            // it does HTTP/2, rather than opening one per waiting transfer. Plain HTTP is 1.1 here,
            // where waiting would only queue transfers behind each other.
            if request.url?.scheme?.lowercased() == "https" { _ = sluice_curl_set_long(handle, CURLOPT_PIPEWAIT, 1) }
            if let share { _ = sluice_curl_set_pointer(handle, CURLOPT_SHARE, share) }
            if let authorities = configuration.certificateAuthorities { _ = sluice_curl_set_string(handle, CURLOPT_CAINFO, authorities) }
            let body = request.httpBody ?? Data()
            let method = request.httpMethod ?? "GET"
            if method == "POST" || !body.isEmpty {
                _ = sluice_curl_set_long(handle, CURLOPT_POST, 1)
                // libcurl keeps its own copy of the body (it may send it again on a fresh connection).
                _ = sluice_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                if body.isEmpty {
                    _ = sluice_curl_set_string(handle, CURLOPT_COPYPOSTFIELDS, "")
                } else {
                    body.withUnsafeBytes { bytes in
                        _ = sluice_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress!))
                    }
                }
            }
            if method != "GET" && method != "POST" { _ = sluice_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, method) }
            _ = sluice_curl_set_long(handle, CURLOPT_TIMEOUT_MS, max(1, exactInt((min(timeout, 86_400_000) * 1000).rounded()) ?? 1))
            if let connectTimeout, connectTimeout > 0 {
                _ = sluice_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, max(1, exactInt((min(connectTimeout, 86_400_000) * 1000).rounded()) ?? 1))
            }
            _ = sluice_curl_set_write(handle, CURLOPT_HEADERFUNCTION, { buffer, size, count, context in
                guard let buffer, let context else { return 0 }
                let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                transfer.header(Data(bytes: buffer, count: size * count))
                return size * count
            })
            _ = sluice_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)
            _ = sluice_curl_set_write(handle, CURLOPT_WRITEFUNCTION, { buffer, size, count, context in
                guard let buffer, let context else { return 0 }
                let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                // Returning less than was given makes libcurl stop with CURLE_WRITE_ERROR.
                return transfer.data(Data(bytes: buffer, count: size * count)) ? size * count : 0
            })
            _ = sluice_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
            return .success(handle)
        }

        /// Frees what `start` made, once the handle is out of the multi handle, and resumes the caller.
        func end(_ handle: UnsafeMutableRawPointer, with result: Result<CurlTransport.Response, Error>) {
            curl_easy_cleanup(handle)
            curl_slist_free_all(headerList)
            headerList = nil
            complete(result)
        }

        /// One header line as curl hands it over (CRLF included), read as bytes: a call reads a
        /// dozen of these, and Foundation's trimming cost more than the rest of the parse.
        private func header(_ line: Data) {
            let bytes = [UInt8](line)
            let text = Self.trimmed(bytes[...])
            if text.starts(with: Array("HTTP/".utf8)) {
                // A new status line (after a redirect or `100 Continue`) starts the headers again.
                let parts = text.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
                status = parts.count > 1 ? Int(String(decoding: parts[1], as: UTF8.self)) ?? 0 : 0
                headers = [:]
            } else if let colon = text.firstIndex(of: UInt8(ascii: ":")) {
                let name = String(decoding: text[..<colon], as: UTF8.self).lowercased()
                headers[name] = String(decoding: Self.trimmed(text[(colon + 1)...]), as: UTF8.self)
            }
        }

        private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
            guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
                return bytes[bytes.startIndex..<bytes.startIndex]
            }
            return bytes[first...last]
        }

        /// Takes a piece of the body; false stops the transfer.
        private func data(_ piece: Data) -> Bool {
            received += piece.count
            if streaming == nil {
                let contentType = headers["content-type"]?.lowercased() ?? ""
                streaming = onBody != nil && (200..<300).contains(status) && !contentType.contains("json")
            }
            guard streaming == true, let onBody else {
                body.append(piece)
                return !isCancelled
            }
            do {
                try onBody(piece)
                return !isCancelled
            } catch {
                sinkError = error
                return false
            }
        }

        func finish(_ code: CURLcode, _ handle: UnsafeMutableRawPointer) -> Result<CurlTransport.Response, Error> {
            if let sinkError { return .failure(sinkError) }
            if isCancelled { return .failure(CancellationError()) }
            guard code == CURLE_OK else { return .failure(transportError(code, handle)) }
            guard status > 0 else { return .failure(ProviderError(.transport, "no response from \(url)")) }
            return .success(CurlTransport.Response(status: status, headers: headers, body: body, streamed: streaming == true))
        }

        private func transportError(_ code: CURLcode, _ handle: UnsafeMutableRawPointer) -> Error {
            let reason = String(cString: curl_easy_strerror(code))
            switch code {
            case CURLE_OPERATION_TIMEDOUT:
                var connectTime = 0.0
                _ = sluice_curl_get_double(handle, CURLINFO_CONNECT_TIME, &connectTime)
                if connectTime == 0, let connectTimeout, connectTimeout < timeout {
                    return HTTPClient.connectTimedOut(url: url, timeout: connectTimeout)
                }
                if received > 0 {
                    return ProviderError(.transport, "the reply from \(url) did not finish within \(JSONValue.formatNumber(timeout))s "
                                         + "(the model's timeout); \(received) bytes had arrived")
                }
                return HTTPClient.timedOut(url: url, timeout: timeout)
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR,
                 CURLE_PEER_FAILED_VERIFICATION:
                return ProviderError(.transport, "could not connect to \(url): \(reason)")
            case _ where received > 0:
                return ProviderError(.transport, "the reply from \(url) was cut off after \(received) bytes: \(reason)")
            case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR:
                return ProviderError(.transport, "the connection to \(url) was closed before a reply: \(reason)")
            default:
                return ProviderError(.transport, "request to \(url) failed: \(reason)")
            }
        }
    }
}
