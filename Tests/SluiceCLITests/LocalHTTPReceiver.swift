#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A small HTTP/1.1 server on 127.0.0.1 for CLI tests (a webhook receiver, a failing model
/// endpoint): it reads each request whole, records it, and answers with the status and body
/// `answer` gives for the request's number (from 0); then the connection closes.
final class LocalHTTPReceiver: @unchecked Sendable {
    struct Request {
        var method: String
        var path: String
        var body: Data
    }

    let port: UInt16
    private let listener: Int32
    private let answer: @Sendable (Int) -> (status: Int, body: String)
    private let lock = NSLock()
    private var received: [Request] = []

    var requests: [Request] { lock.withLock { received } }
    var url: String { "http://127.0.0.1:\(port)" }

    init(answer: @escaping @Sendable (Int) -> (status: Int, body: String) = { _ in (200, "{}") }) throws {
        self.answer = answer
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread { [self] in serve() }.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 { return }
            if let request = read(connection) {
                let index: Int = lock.withLock {
                    received.append(request)
                    return received.count - 1
                }
                let (status, body) = answer(index)
                let bytes = Array(body.utf8)
                let head = "HTTP/1.1 \(status) Status\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
                let reply = Array(head.utf8) + bytes
                _ = reply.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            close(connection)
        }
    }

    private func read(_ fd: Int32) -> Request? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var bodyStart: Int?
        var expected = Int.max
        while buffer.count < expected {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            buffer += chunk[0..<n]
            if bodyStart == nil, let end = (0..<max(0, buffer.count - 3)).first(where: { buffer[$0..<$0 + 4] == [13, 10, 13, 10] }) {
                bodyStart = end + 4
                let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                expected = end + 4 + length
            }
        }
        guard let bodyStart else { return nil }
        let line = String(decoding: buffer[0..<bodyStart], as: UTF8.self).split(separator: "\r\n").first?.split(separator: " ") ?? []
        return Request(method: line.first.map(String.init) ?? "", path: line.count > 1 ? String(line[1]) : "", body: Data(buffer[bodyStart...]))
    }
}
