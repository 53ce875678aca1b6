#if canImport(Glibc)
import Glibc
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import SluiceRuntime
@testable import SluiceServices

/// The transport's connection pool against a real nginx over TLS (one handshake for many calls,
/// HTTP/2 when offered, a server closing idle connections survived), and a raw server that drops
/// a pooled connection just as a request arrives (sent once more, and only once).
final class ConnectionPoolTests: XCTestCase {
    // MARK: nginx

    func testManyCallsToOneEndpointShareOneTLSConnectionOverHTTP2() async throws {
        let nginx = try NginxServer.start(self)
        let pool = CurlPool(nginx.trusting)
        for i in 0..<10 { try await Self.expectOK(pool, "\(nginx.http2)/sequential?\(i)") }
        // At once: multiplexed on the same connection, not one connection each.
        try await withThrowingTaskGroup(of: Void.self) { group in
            let url = nginx.http2
            for i in 0..<10 { group.addTask { try await Self.expectOK(pool, "\(url)/concurrent?\(i)") } }
            try await group.waitForAll()
        }
        let lines = try nginx.log()
        XCTAssertEqual(lines.count, 20)
        XCTAssertEqual(Set(lines.map(\.connection)).count, 1, "one connection, so one TLS handshake: \(lines)")
        XCTAssertEqual(lines.map(\.protocol), Array(repeating: "HTTP/2.0", count: 20))
        XCTAssertEqual(lines.map(\.requestsOnConnection).max(), 20)
    }

    func testAServerWithoutHTTP2KeepsItsHTTP11ConnectionAlive() async throws {
        let nginx = try NginxServer.start(self)
        let pool = CurlPool(nginx.trusting)
        for i in 0..<10 { try await Self.expectOK(pool, "\(nginx.http11)/sequential?\(i)") }
        let lines = try nginx.log()
        XCTAssertEqual(lines.map(\.protocol), Array(repeating: "HTTP/1.1", count: 10))
        XCTAssertEqual(Set(lines.map(\.connection)).count, 1, "\(lines)")
        XCTAssertEqual(lines.map(\.requestsOnConnection), Array(1...10))
    }

    func testAConnectionTheServerClosedWhileIdleIsReplacedAndItsTLSSessionResumed() async throws {
        let nginx = try NginxServer.start(self)
        let pool = CurlPool(nginx.trusting)
        try await Self.expectOK(pool, "\(nginx.closesIdle)/first")
        // The server's keepalive_timeout is 1s: the pooled connection is gone by the next call.
        try await Task.sleep(nanoseconds: 1_800_000_000)
        try await Self.expectOK(pool, "\(nginx.closesIdle)/second")
        let lines = try nginx.log()
        XCTAssertEqual(lines.map(\.path), ["/first", "/second"])
        XCTAssertNotEqual(lines[0].connection, lines[1].connection, "\(lines)")
        XCTAssertEqual(lines.map(\.sessionReused), [".", "r"], "the second connection resumes the first's TLS session")
    }

    // MARK: A connection dropped as the request goes out

    func testARequestDroppedOnAPooledConnectionIsSentOnceMoreOnAFreshOne() async throws {
        // The first connection answers one request, then swallows the next and closes; later
        // connections answer.
        let server = try DroppingServer(dropsOnFreshConnections: false)
        defer { server.stop() }
        let pool = CurlPool(CurlPool.Configuration())
        let first = try await post(pool, "http://127.0.0.1:\(server.port)/a")
        let second = try await post(pool, "http://127.0.0.1:\(server.port)/b")
        XCTAssertEqual([first, second], ["answer 1 on connection 1", "answer 1 on connection 2"])
        XCTAssertEqual(server.received, ["connection 1: POST /a body", "connection 1: POST /b body", "connection 2: POST /b body"])
    }

    func testARequestDroppedOnAFreshConnectionTooIsAnErrorAfterOneResend() async throws {
        let server = try DroppingServer(dropsOnFreshConnections: true)
        defer { server.stop() }
        let pool = CurlPool(CurlPool.Configuration())
        let first = try await post(pool, "http://127.0.0.1:\(server.port)/a")
        XCTAssertEqual(first, "answer 1 on connection 1")
        do {
            _ = try await post(pool, "http://127.0.0.1:\(server.port)/b")
            XCTFail("a request dropped on a fresh connection succeeded")
        } catch let error as ProviderError {
            XCTAssertTrue(error.message.contains("was closed before a reply"), error.message)
        }
        XCTAssertEqual(server.received, ["connection 1: POST /a body", "connection 1: POST /b body", "connection 2: POST /b body"])
    }

    // MARK: Helpers

    private static func expectOK(_ pool: CurlPool, _ url: String) async throws {
        let response = try await pool.perform(URLRequest(url: URL(string: url)!), timeout: 10, connectTimeout: 5, onBody: nil)
        XCTAssertEqual(response.status, 200, url)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), #"{"ok":true}"#)
    }

    private func post(_ pool: CurlPool, _ url: String) async throws -> String {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data("body".utf8)
        let response = try await pool.perform(request, timeout: 10, connectTimeout: 5, onBody: nil)
        return String(decoding: response.body, as: UTF8.self)
    }
}

/// nginx from the system (Debian's `nginx-light`, which scripts/test installs), as a foreground
/// process in a temp folder on free 127.0.0.1 ports, with a certificate made here by openssl:
/// `http2` offers HTTP/2, `http11` does not, `closesIdle` (HTTP/1.1) closes a connection idle for 1s. Its
/// access log records, per request, the connection number, the request's number on it, whether
/// the TLS session was resumed, and the protocol. Stopped when the test ends.
struct NginxServer {
    struct LogLine: CustomStringConvertible {
        var connection: String
        var requestsOnConnection: Int
        var sessionReused: String
        var `protocol`: String
        var path: String
        var description: String { "#\(connection) \(requestsOnConnection) \(sessionReused) \(`protocol`) \(path)" }
    }

    let folder: String
    let http2: String
    let http11: String
    let closesIdle: String
    /// A pool that trusts the test's certificate.
    var trusting: CurlPool.Configuration {
        var configuration = CurlPool.Configuration()
        configuration.certificateAuthorities = folder + "/cert.pem"
        return configuration
    }

    static func start(_ test: XCTestCase) throws -> NginxServer {
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let nginx, let openssl else {
            throw XCTSkip("nginx and openssl are needed for the connection-pool tests (scripts/test installs them: nginx-light, openssl)")
        }
        let folder = try temporaryFolder(test)
        try run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                          "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem"])
        let ports = try (0..<3).map { _ in try freePort() }
        let tls = "ssl_certificate \(folder)/cert.pem; ssl_certificate_key \(folder)/key.pem; ssl_session_cache shared:pool:1m;"
        let answer = #"location / { default_type application/json; return 200 '{"ok":true}'; }"#
        try write("""
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(folder)/nginx.pid;
            error_log \(folder)/error.log;
            events { worker_connections 64; }
            http {
                log_format pool '$connection $connection_requests $ssl_session_reused $server_protocol $uri';
                access_log \(folder)/access.log pool;
                client_body_temp_path \(folder)/body;
                proxy_temp_path \(folder)/proxy;
                fastcgi_temp_path \(folder)/fastcgi;
                uwsgi_temp_path \(folder)/uwsgi;
                scgi_temp_path \(folder)/scgi;
                keepalive_requests 1000;
                server { listen 127.0.0.1:\(ports[0]) ssl http2; \(tls) \(answer) }
                server { listen 127.0.0.1:\(ports[1]) ssl; \(tls) \(answer) }
                server { listen 127.0.0.1:\(ports[2]) ssl; keepalive_timeout 1s; \(tls) \(answer) }
            }
            """, to: folder + "/nginx.conf")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", folder, "-c", folder + "/nginx.conf", "-e", folder + "/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // SIGKILL: a child of the test process inherits its blocked signals, and nginx without a
        // master process never unblocks SIGTERM.
        test.addTeardownBlock {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(10)
        while !ports.allSatisfy(accepts) {
            guard process.isRunning, Date() < deadline else {
                let log = (try? String(contentsOfFile: folder + "/error.log", encoding: .utf8)) ?? ""
                throw NSError(domain: "nginx", code: 1, userInfo: [NSLocalizedDescriptionKey: "nginx did not start: \(log)"])
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return NginxServer(folder: folder, http2: "https://127.0.0.1:\(ports[0])", http11: "https://127.0.0.1:\(ports[1])",
                           closesIdle: "https://127.0.0.1:\(ports[2])")
    }

    func log() throws -> [LogLine] {
        try String(contentsOfFile: folder + "/access.log", encoding: .utf8).split(separator: "\n").map { line in
            let fields = line.split(separator: " ").map(String.init)
            return LogLine(connection: fields[0], requestsOnConnection: Int(fields[1]) ?? -1, sessionReused: fields[2],
                           protocol: fields[3], path: fields[4])
        }
    }

    private static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "openssl", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(executable) \(arguments.joined(separator: " ")) failed"])
        }
    }
}

/// A 127.0.0.1 port nothing listens on now (bound to port 0, then closed).
private func freePort() throws -> UInt16 {
    let (fd, port) = try listeningSocket()
    close(fd)
    return port
}

private func listeningSocket() throws -> (Int32, UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts connections on 127.0.0.1:`port`.
private func accepts(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// An HTTP/1.1 server whose first connection answers one request with keep-alive, then reads the
/// next request and closes without a word (a pooled connection dying as the request goes out).
/// Later connections answer each request, or, with `dropsOnFreshConnections`, drop it the same way.
/// Records every request it read, with the number of its connection.
final class DroppingServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let dropsOnFreshConnections: Bool
    private let lock = NSLock()
    private var log: [String] = []
    private var connections = 0

    var received: [String] { lock.withLock { log } }

    init(dropsOnFreshConnections: Bool) throws {
        self.dropsOnFreshConnections = dropsOnFreshConnections
        (listener, port) = try listeningSocket()
        Thread { [self] in acceptLoop() }.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            let number: Int = lock.withLock { connections += 1; return connections }
            Thread { [self] in serve(connection, number) }.start()
        }
    }

    private func serve(_ fd: Int32, _ number: Int) {
        defer { close(fd) }
        var buffer = Data()
        var answered = 0
        while let request = Self.readRequest(fd, &buffer) {
            lock.withLock { log.append("connection \(number): \(request)") }
            let drop = number == 1 ? answered == 1 : dropsOnFreshConnections
            if drop { return }
            answered += 1
            let body = "answer \(answered) on connection \(number)"
            let reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            _ = reply.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }
    }

    /// "METHOD PATH BODY" of the next request on `fd`, or nil when the client closed.
    private static func readRequest(_ fd: Int32, _ buffer: inout Data) -> String? {
        let separator = Data("\r\n\r\n".utf8)
        func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
        var end = buffer.range(of: separator)
        while end == nil {
            guard fill() else { return nil }
            end = buffer.range(of: separator)
        }
        let head = String(decoding: buffer[buffer.startIndex..<end!.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "content-length" ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }.first ?? 0
        while buffer.distance(from: end!.upperBound, to: buffer.endIndex) < length {
            guard fill() else { return nil }
        }
        let bodyStart = end!.upperBound
        let body = String(decoding: buffer[bodyStart..<buffer.index(bodyStart, offsetBy: length)], as: UTF8.self)
        buffer = Data(buffer[buffer.index(bodyStart, offsetBy: length)...])
        let requestLine = lines.first?.split(separator: " ") ?? []
        return "\(requestLine.first ?? "") \(requestLine.dropFirst().first ?? "") \(body)"
    }
}
