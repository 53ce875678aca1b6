#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A tiny HTTP/1.1 server on 127.0.0.1 and an ephemeral port, for provider tests without a network.
/// Each connection gets one request and one answer chosen by `respond`; then the connection closes.
final class TestHTTPServer: @unchecked Sendable {
    struct Request {
        var method: String
        var path: String
        /// Header names lowercased.
        var headers: [String: String]
        var body: Data
    }

    enum Answer: Sendable {
        case reply(status: Int, body: String)
        /// A reply with extra headers (Retry-After, a content type...).
        case replyWith(status: Int, headers: [(String, String)], body: String)
        /// Reads the request and never answers, until the server stops.
        case stall
        /// Closes the connection without a word.
        case hangUp
        /// A streamed body: the chunks are written one by one, `pause` seconds apart. With
        /// `chunked`, in chunked transfer encoding; otherwise the body ends when the connection
        /// closes. With `cut`, the connection is closed after the chunks without a proper end
        /// (for chunked encoding: no terminating zero-length chunk).
        case stream(status: Int, contentType: String, chunks: [String], pause: Double, chunked: Bool, cut: Bool)

        static func sse(_ chunks: [String], pause: Double = 0, chunked: Bool = false, cut: Bool = false) -> Answer {
            .stream(status: 200, contentType: "text/event-stream", chunks: chunks, pause: pause, chunked: chunked, cut: cut)
        }
    }

    let port: UInt16
    private let listener: Int32
    private let respond: @Sendable (Request, Int) -> Answer
    private let lock = NSLock()
    private var received: [Request] = []
    private var open: Set<Int32> = []
    private var stopped = false

    var requests: [Request] { lock.withLock { received } }
    var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    var root: String { "http://127.0.0.1:\(port)" }

    convenience init(respond: @escaping @Sendable (Request) -> Answer) throws {
        try self.init(respondNumbered: { request, _ in respond(request) })
    }

    /// Answers the n-th request (from 0) with `answers[n]`, and every later one with the last answer.
    convenience init(answers: [Answer]) throws {
        try self.init(respondNumbered: { _, index in answers[min(index, answers.count - 1)] })
    }

    /// `respond` gets each request and its number, from 0, in the order they were read.
    init(respondNumbered: @escaping @Sendable (Request, Int) -> Answer) throws {
        self.respond = respondNumbered
        (listener, port) = try Self.listen()
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Binds 127.0.0.1:0 and returns the socket and the port the kernel chose.
    private static func listen(backlog: Int32 = 16) throws -> (Int32, UInt16) {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// A port on 127.0.0.1 where connections never complete: a listener with a backlog of 0 that
    /// never accepts, its one queue slot taken by a connection of our own, so the kernel drops
    /// further SYNs and a client's connect hangs. Close the returned sockets when done.
    static func unreachablePort() throws -> (port: UInt16, sockets: [Int32]) {
        let (fd, port) = try listen(backlog: 0)
        var sockets = [fd]
        for _ in 0..<2 {
            #if canImport(Glibc)
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            #else
            let filler = socket(AF_INET, SOCK_STREAM, 0)
            #endif
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            sockets.append(filler)
        }
        Thread.sleep(forTimeInterval: 0.1)
        return (port, sockets)
    }

    /// A port on 127.0.0.1 that nothing listens on: bound, then closed without listening.
    static func closedPort() throws -> UInt16 {
        let (fd, port) = try listen()
        close(fd)
        return port
    }

    func stop() {
        let sockets: Set<Int32> = lock.withLock {
            stopped = true
            return open
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 { return }
            let accepted: Bool = lock.withLock {
                if stopped { return false }
                open.insert(connection)
                return true
            }
            guard accepted else { close(connection); return }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.withLock { _ = open.remove(fd) }
            close(fd)
        }
        guard let request = readRequest(fd) else { return }
        let index: Int = lock.withLock {
            received.append(request)
            return received.count - 1
        }
        switch respond(request, index) {
        case .stall:
            var byte: UInt8 = 0
            _ = recv(fd, &byte, 1, 0)   // returns when the client gives up or the server stops
        case .hangUp:
            return
        case .reply(let status, let body):
            sendReply(fd, status: status, headers: [], body: body)
        case .replyWith(let status, let headers, let body):
            sendReply(fd, status: status, headers: headers, body: body)
        case .stream(let status, let contentType, let chunks, let pause, let chunked, let cut):
            var head = "HTTP/1.1 \(status) Status\r\nContent-Type: \(contentType)\r\nCache-Control: no-cache\r\nConnection: close\r\n"
            if chunked { head += "Transfer-Encoding: chunked\r\n" }
            sendAll(fd, Array((head + "\r\n").utf8))
            for chunk in chunks {
                if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                let bytes = Array(chunk.utf8)
                if chunked {
                    sendAll(fd, Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10])
                } else {
                    sendAll(fd, bytes)
                }
            }
            if chunked, !cut { sendAll(fd, Array("0\r\n\r\n".utf8)) }
        }
    }

    private func sendReply(_ fd: Int32, status: Int, headers: [(String, String)], body: String) {
        let bytes = Array(body.utf8)
        var head = "HTTP/1.1 \(status) Status\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "content-type" }) { head += "Content-Type: application/json\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
        sendAll(fd, Array(head.utf8) + bytes)
    }

    private func readRequest(_ fd: Int32) -> Request? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        var expected = Int.max
        while buffer.count < expected {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
            if headerEnd == nil, let end = buffer.indices.dropLast(3).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) {
                headerEnd = end + 4
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n").compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first ?? 0
                expected = end + 4 + length
            }
        }
        guard let headerEnd else { return nil }
        let lines = String(decoding: buffer[0..<headerEnd - 4], as: UTF8.self).split(separator: "\r\n").map(String.init)
        let requestLine = lines.first?.split(separator: " ").map(String.init) ?? []
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return Request(method: requestLine.first ?? "", path: requestLine.count > 1 ? requestLine[1] : "", headers: headers,
                       body: Data(buffer[headerEnd...]))
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}
