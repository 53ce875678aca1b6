import CCurl
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceRuntime

/// HTTP over libcurl, one blocking transfer per thread (an easy handle driven by its own multi
/// handle, so that cancelling the task wakes the wait at once rather than at libcurl's next
/// once-a-second progress check).
///
/// FoundationNetworking's URLSession on Linux keeps a core busy while it waits for a reply
/// (measured here: about half a core of system time for the whole wait), which next to a local
/// model on two cores slows the model several times over. A blocking `curl_easy_perform` waits
/// in poll(2) and costs nothing while the server thinks.
enum CurlTransport {
    struct Response {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: Data
        var streamed: Bool
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Performs `request`; a 2xx body that is not JSON goes to `onBody` as it arrives when given.
    static func perform(_ request: URLRequest, timeout: Double, connectTimeout: Double?,
                        onBody: (@Sendable (Data) throws -> Void)?) async throws -> Response {
        _ = globalInit
        let transfer = Transfer(request: request, timeout: timeout, connectTimeout: connectTimeout, onBody: onBody)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Response, Error>) in
                let thread = Thread {
                    continuation.resume(with: transfer.run())
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
        } onCancel: {
            transfer.cancel()
        }
    }

    /// One exchange's state, shared with libcurl's callbacks through an unmanaged pointer.
    final class Transfer: @unchecked Sendable {
        let request: URLRequest
        let url: String
        let timeout: Double
        let connectTimeout: Double?
        let onBody: (@Sendable (Data) throws -> Void)?
        private let lock = NSLock()
        private var cancelled = false
        private var status = 0
        private var headers: [String: String] = [:]
        private var body = Data()
        private var streaming: Bool?
        private var received = 0
        private var sinkError: Error?

        init(request: URLRequest, timeout: Double, connectTimeout: Double?, onBody: (@Sendable (Data) throws -> Void)?) {
            self.request = request
            self.url = request.url?.absoluteString ?? "the server"
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.onBody = onBody
        }

        /// The multi handle while the transfer runs, for `cancel` to wake its wait.
        private var multi: UnsafeMutableRawPointer?

        func cancel() {
            lock.withLock {
                cancelled = true
                // Safe from any thread; under the lock, so the handle cannot be cleaned up meanwhile.
                if let multi { curl_multi_wakeup(multi) }
            }
        }
        var isCancelled: Bool { lock.withLock { cancelled } }

        func run() -> Result<Response, Error> {
            guard let handle = curl_easy_init() else {
                return .failure(ProviderError(.transport, "request to \(url) failed: libcurl could not start a transfer"))
            }
            defer { curl_easy_cleanup(handle) }
            var headerList: UnsafeMutablePointer<curl_slist>?
            defer { curl_slist_free_all(headerList) }
            for (name, value) in request.allHTTPHeaderFields ?? [:] {
                headerList = curl_slist_append(headerList, "\(name): \(value)")
            }
            // Without this, libcurl sends `Expect: 100-continue` for larger bodies and waits for the server's go-ahead.
            headerList = curl_slist_append(headerList, "Expect:")
            let context = Unmanaged.passUnretained(self).toOpaque()
            let body = request.httpBody ?? Data()
            let code: CURLcode = body.withUnsafeBytes { bytes in
                _ = sluice_curl_set_string(handle, CURLOPT_URL, url)
                _ = sluice_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = sluice_curl_set_slist(handle, CURLOPT_HTTPHEADER, headerList)
                let method = request.httpMethod ?? "GET"
                if method == "POST" || !body.isEmpty {
                    _ = sluice_curl_set_long(handle, CURLOPT_POST, 1)
                    _ = sluice_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                    _ = sluice_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
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
                _ = sluice_curl_set_long(handle, CURLOPT_NOPROGRESS, 0)
                _ = sluice_curl_set_progress(handle, { context, _, _, _, _ in
                    guard let context else { return 0 }
                    return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().isCancelled ? 1 : 0
                })
                _ = sluice_curl_set_pointer(handle, CURLOPT_XFERINFODATA, context)
                return perform(handle)
            }
            return finish(code, handle)
        }

        /// Runs the transfer to its end, waiting in poll(2) between steps, and stops as soon as it is cancelled.
        private func perform(_ easy: UnsafeMutableRawPointer) -> CURLcode {
            guard let multi = curl_multi_init() else { return curl_easy_perform(easy) }
            guard curl_multi_add_handle(multi, easy) == CURLM_OK else {
                curl_multi_cleanup(multi)
                return curl_easy_perform(easy)
            }
            lock.withLock { self.multi = multi }
            defer {
                lock.withLock { self.multi = nil }
                curl_multi_remove_handle(multi, easy)
                curl_multi_cleanup(multi)
            }
            var running: Int32 = 1
            while running > 0 {
                guard curl_multi_perform(multi, &running) == CURLM_OK else { return CURLE_FAILED_INIT }
                guard running > 0 else { break }
                if isCancelled { return CURLE_ABORTED_BY_CALLBACK }
                guard curl_multi_poll(multi, nil, 0, 1000, nil) == CURLM_OK else { return CURLE_FAILED_INIT }
            }
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                if message.pointee.msg == CURLMSG_DONE { return message.pointee.data.result }
            }
            return CURLE_OK
        }

        private func header(_ line: Data) {
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            lock.withLock {
                if text.hasPrefix("HTTP/") {
                    // A new status line (after a redirect or `100 Continue`) starts the headers again.
                    let parts = text.split(separator: " ")
                    status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
                    headers = [:]
                } else if let colon = text.firstIndex(of: ":") {
                    let name = text[..<colon].lowercased()
                    headers[name] = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
        }

        /// Takes a piece of the body; false stops the transfer.
        private func data(_ piece: Data) -> Bool {
            let sink: (@Sendable (Data) throws -> Void)? = lock.withLock {
                received += piece.count
                if streaming == nil {
                    let contentType = headers["content-type"]?.lowercased() ?? ""
                    streaming = onBody != nil && (200..<300).contains(status) && !contentType.contains("json")
                }
                if streaming == true { return onBody }
                body.append(piece)
                return nil
            }
            guard let sink else { return !isCancelled }
            do {
                try sink(piece)
                return !isCancelled
            } catch {
                lock.withLock { sinkError = error }
                return false
            }
        }

        private func finish(_ code: CURLcode, _ handle: UnsafeMutableRawPointer) -> Result<Response, Error> {
            let (status, headers, body, streamed, received, sinkError, cancelled) = lock.withLock {
                (self.status, self.headers, self.body, self.streaming == true, self.received, self.sinkError, self.cancelled)
            }
            if let sinkError { return .failure(sinkError) }
            if cancelled { return .failure(CancellationError()) }
            guard code == CURLE_OK else { return .failure(transportError(code, handle, received: received)) }
            guard status > 0 else { return .failure(ProviderError(.transport, "no response from \(url)")) }
            return .success(Response(status: status, headers: headers, body: body, streamed: streamed))
        }

        private func transportError(_ code: CURLcode, _ handle: UnsafeMutableRawPointer, received: Int) -> Error {
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
