import Foundation
import Hummingbird
import Logging
import NIOCore
import SluiceServices

/// Serves the trace viewer of a store on 127.0.0.1 only: it shows what runs sent to models, so
/// it is never reachable from another machine.
public enum ViewerServer {
    public static let host = "127.0.0.1"

    /// Serves until SIGINT or SIGTERM, then stops accepting, finishes the requests in progress and
    /// returns. `listening` is called once the port is bound, with the port (the one the system
    /// chose when `port` is 0).
    public static func serve(store: SQLiteStore, port: Int, listening: @escaping @Sendable (Int) -> Void) async throws {
        let viewer = TraceViewer(store: store)
        var logger = Logger(label: "sluice.viewer")
        // The server's own notices ("listening on ...") would repeat what the command says; its failures are reported as errors.
        logger.logLevel = .critical
        let app = Application(
            responder: ViewerResponder(viewer: viewer),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in listening(channel.localAddress?.port ?? port) },
            logger: logger)
        do {
            try await app.runService(gracefulShutdownSignals: [.sigint, .sigterm])
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ViewerServerError("port \(port) on \(host) is already in use: stop what listens there or pick another with --port")
        } catch let error as IOError where error.errnoCode == EACCES {
            throw ViewerServerError("port \(port) on \(host) cannot be used without privileges: pick one above 1023 with --port")
        } catch let error as IOError {
            throw ViewerServerError("cannot listen on \(host):\(port): \(error)")
        }
    }
}

extension ViewerServer {
    /// Whether a request's Host names this machine's loopback. A web page elsewhere can point its own
    /// domain name at 127.0.0.1 (DNS rebinding) and so reach the viewer from the user's browser, but the
    /// browser then sends that name as the Host: such a request gets no trace. No Host at all (HTTP/1.0)
    /// is not a browser's request and is answered.
    static func isLoopback(authority: String?) -> Bool {
        guard let authority, !authority.isEmpty else { return true }
        let host: Substring
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = authority[authority.index(after: authority.startIndex)..<close]
        } else {
            host = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
        }
        return ["127.0.0.1", "localhost", "::1"].contains(host.lowercased())
    }
}

/// Why the viewer could not start serving.
public struct ViewerServerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Answers GET and HEAD with the viewer's pages; nothing else is served.
struct ViewerResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let viewer: TraceViewer

    func respond(to request: Request, context: Context) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            var headers = HTTPFields()
            headers[.allow] = "GET, HEAD"
            return Response(status: .methodNotAllowed, headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "The trace viewer only answers GET and HEAD.\n")))
        }
        let authority = request.head.authority
        let page = ViewerServer.isLoopback(authority: authority)
            ? viewer.respond(path: request.uri.path, query: request.uri.query)
            : Layout.problem(status: 403, title: "Forbidden", storePath: viewer.store.path,
                             message: "The trace viewer answers only requests addressed to \(ViewerServer.host) or localhost, not to \(authority ?? "").")
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        // Pages embed the store's text: forbid every script and every fetch from elsewhere, even if escaping were ever missed.
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-store"
        let body = ByteBuffer(string: page.html.markup)
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: HTTPResponse.Status(code: page.status), headers: headers,
                        body: request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: body))
    }
}
