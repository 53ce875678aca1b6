import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// `sluice traces serve` as a person uses it: a store written by real runs, the server started
/// on a free port, its pages fetched over HTTP and rendered by headless Chromium.
final class TracesServeCLITests: SluiceCLITestCase {
    /// A running `sluice traces serve`; stopped with SIGINT by `stop()` or, at the latest, when the test ends.
    final class Server {
        let process = Process()
        let port: Int
        let stderrFile: URL
        var base: String { "http://127.0.0.1:\(port)" }

        init(arguments: [String], scratch: URL, test: XCTestCase) throws {
            process.executableURL = SluiceCLITestCase.binary
            process.arguments = arguments
            process.currentDirectoryURL = SluiceCLITestCase.repo
            var environment = ProcessInfo.processInfo.environment
            environment["NO_COLOR"] = "1"
            environment.removeValue(forKey: "SLUICE_DB")
            process.environment = environment
            stderrFile = scratch.appendingPathComponent("serve-\(UUID().uuidString).stderr")
            FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: stderrFile)
            process.standardInput = FileHandle.nullDevice
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            test.addTeardownBlock { [process] in
                if process.isRunning { process.interrupt(); process.waitUntilExit() }
            }
            // The first line names the address; with --port 0 it is the only way to learn the port.
            var firstLine = Data()
            let deadline = Date().addingTimeInterval(30)
            while !firstLine.contains(UInt8(ascii: "\n")), Date() < deadline {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                firstLine.append(chunk)
            }
            let line = String(decoding: firstLine, as: UTF8.self)
            guard let range = line.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression),
                  let port = Int(line[range].dropFirst("http://127.0.0.1:".count).dropLast()) else {
                throw NotServing(stdout: line, stderr: (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "")
            }
            self.port = port
        }

        var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

        /// Ctrl-C; the exit status.
        func stop() -> Int32 {
            process.interrupt()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    struct NotServing: Error, CustomStringConvertible {
        var stdout: String
        var stderr: String
        var description: String { "sluice traces serve did not say where it serves; stdout: \(stdout) stderr: \(stderr)" }
    }

    /// Four runs: two of `support` for alice (one asked with a script tag), one of `rag` for bob, one of `rag` that fails.
    private func recordRuns() throws -> (support: String, hostile: String, rag: String) {
        func run(_ arguments: [String]) throws -> String {
            let result = try sluice(["run"] + arguments + ["--db", db, "--json"])
            XCTAssertEqual(result.code, 0, result.stderr)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            return try XCTUnwrap(json["run_id"] as? String)
        }
        let support = try run(["pipelines/support.sluice", "--replies", "pipelines/replies/support.jsonl",
                               "--input-file", "pipelines/cases/support_password.json", "--user", "alice"])
        let hostile = try run(["pipelines/support.sluice", "--replies", "pipelines/replies/support.jsonl",
                               "--input", "question=<script>alert(1)</script>", "--user", "alice"])
        let rag = try run(["pipelines/rag.sluice", "--replies", "pipelines/replies/rag.jsonl",
                           "--input-file", "pipelines/cases/rag_api_keys.json", "--user", "bob"])
        // No replies and no API key: the model call fails, and so does the run.
        let failed = try sluice(["run", "pipelines/rag.sluice", "--input-file", "pipelines/cases/rag_api_keys.json", "--db", db])
        XCTAssertEqual(failed.code, 1, failed.stderr)
        return (support, hostile, rag)
    }

    private func startServer() throws -> Server {
        try Server(arguments: ["traces", "serve", "--db", db, "--port", "0"], scratch: scratch, test: self)
    }

    /// A GET over HTTP: status, headers and body.
    private func fetch(_ url: String, method: String = "GET", host: String? = nil) throws -> (status: Int, headers: [String: String], body: String) {
        var request = URLRequest(url: try XCTUnwrap(URL(string: url)))
        request.httpMethod = method
        if let host { request.setValue(host, forHTTPHeaderField: "Host") }
        request.timeoutInterval = 20
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var answer: (Data?, URLResponse?, Error?)
        URLSession.shared.dataTask(with: request) { data, response, error in
            answer = (data, response, error)
            done.signal()
        }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "no answer from \(url)")
        if let error = answer.2 { throw error }
        let response = try XCTUnwrap(answer.1 as? HTTPURLResponse)
        var headers: [String: String] = [:]
        for (name, value) in response.allHeaderFields { headers[String(describing: name).lowercased()] = String(describing: value) }
        return (response.statusCode, headers, String(decoding: answer.0 ?? Data(), as: UTF8.self))
    }

    func testPagesOverHTTPAreEscapedAnd404ForAnUnknownRun() throws {
        let runs = try recordRuns()
        let server = try startServer()
        let list = try fetch(server.base + "/")
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(list.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(list.headers["content-security-policy"]?.contains("default-src 'none'") == true, "\(list.headers)")
        XCTAssertTrue(list.body.contains("4 runs recorded"), list.body)
        let hostile = try fetch(server.base + "/runs/" + runs.hostile)
        XCTAssertEqual(hostile.status, 200)
        XCTAssertTrue(hostile.body.contains("&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"), hostile.body)
        XCTAssertFalse(hostile.body.contains("<script"))
        let unknown = try fetch(server.base + "/runs/0000000000000000")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertTrue(unknown.body.contains("There is no run with id 0000000000000000"), unknown.body)
        XCTAssertEqual(try fetch(server.base + "/nowhere").status, 404)
        XCTAssertEqual(try fetch(server.base + "/?to=someday").status, 400)
        XCTAssertEqual(try fetch(server.base + "/", method: "POST").status, 405)
        XCTAssertEqual(try fetch(server.base + "/", host: "localhost:\(server.port)").status, 200)
        let rebound = try fetch(server.base + "/", host: "attacker.example:\(server.port)")
        XCTAssertEqual(rebound.status, 403, "a page whose name was pointed at 127.0.0.1 reads nothing")
        XCTAssertFalse(rebound.body.contains(runs.support.prefix(8)))
        XCTAssertEqual(server.stop(), 0, server.stderr)
        XCTAssertTrue(server.stderr.contains("sluice traces serve: stopped"), server.stderr)
    }

    func testTheViewerInHeadlessChromium() throws {
        guard let chromium = Self.chromium else {
            throw XCTSkip("chromium is not installed (apt-get install chromium): the viewer's pages are not rendered in a browser")
        }
        let runs = try recordRuns()
        let server = try startServer()

        let list = try render(chromium, server.base + "/", screenshot: "list.png")
        XCTAssertTrue(list.contains("4 runs recorded"), list)
        for id in [runs.support, runs.hostile, runs.rag] { XCTAssertTrue(list.contains(">\(id.prefix(8))</a>"), "\(id) is listed") }
        XCTAssertTrue(list.contains("<span class=\"badge bad\">error</span>"), "the failed run")

        let rag = try render(chromium, server.base + "/?pipeline=rag")
        XCTAssertTrue(rag.contains("2 runs match"), rag)
        XCTAssertTrue(rag.contains(">\(runs.rag.prefix(8))</a>"))
        XCTAssertFalse(rag.contains(">\(runs.support.prefix(8))</a>"))
        XCTAssertTrue(rag.contains("<option selected=\"\" value=\"rag\">rag</option>"), "the form shows the filter applied")
        XCTAssertTrue(rag.contains("<a class=\"clear\" href=\"/\">Clear</a>"))
        let alice = try render(chromium, server.base + "/?user=alice&status=ok")
        XCTAssertTrue(alice.contains("2 runs match"), alice)
        XCTAssertFalse(alice.contains(">\(runs.rag.prefix(8))</a>"))

        let search = try render(chromium, server.base + "/?q=rotate+API+keys", screenshot: "search.png")
        XCTAssertTrue(search.contains("2 runs match"), "the rag runs' question")
        XCTAssertTrue(search.contains(">\(runs.rag.prefix(8))</a>"))
        XCTAssertTrue(try render(chromium, server.base + "/?q=never+got+the+email").contains("1 run matches"))

        let run = try render(chromium, server.base + "/runs/" + runs.support, screenshot: "run.png")
        XCTAssertTrue(run.contains("class=\"waterfall\""), run)
        for span in ["<span class=\"kind\">cascade</span>support_answer", "<span class=\"kind\">retrieve</span>kb",
                     "<span class=\"kind\">guard</span>injection"] {
            XCTAssertTrue(run.contains(span), "the waterfall has \(span)")
        }
        XCTAssertNotNil(run.range(of: #"class="bar ok" style="left:[0-9.]+%;width:[0-9.]+%""#, options: .regularExpression),
                        "bars are placed by offset and length")
        XCTAssertTrue(run.contains("You are a support agent for Acme Cloud"), "the system message")
        XCTAssertTrue(run.contains("How do I reset my password? I never got the email last time."), "the user's question")
        XCTAssertTrue(run.contains("<div class=\"role\">reply</div>"), "the reply")
        XCTAssertTrue(run.contains("$0.00524"), "the run's cost")
        XCTAssertTrue(run.contains("<td>length</td>"), "the score")
        XCTAssertTrue(run.contains("<td>injection</td>"), "the guard verdicts")

        let hostile = try render(chromium, server.base + "/runs/" + runs.hostile, screenshot: "escaped.png")
        XCTAssertTrue(hostile.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the input is shown as text")
        XCTAssertFalse(hostile.contains("<script"), "and never becomes an element")

        let charts = try render(chromium, server.base + "/charts", screenshot: "charts.png")
        XCTAssertTrue(charts.contains("<h2>Cost per day</h2>"), charts)
        XCTAssertTrue(charts.contains("<h2>Latency distribution</h2>"))
        XCTAssertTrue(charts.contains("$0.0107 over 4 runs from "), "two support runs of $0.00524, a rag run of $0.000181, a failed one")
        XCTAssertNotNil(charts.range(of: #"<title>\d{4}-\d\d-\d\d: \$[0-9.]+ over [1-4] runs?</title>"#, options: .regularExpression),
                        "a day's bar says what it stands for")
        XCTAssertTrue(charts.contains("4 finished runs: median"))
        XCTAssertGreaterThan(charts.components(separatedBy: "<rect").count - 1, 1, "the bars are drawn")

        let missing = try render(chromium, server.base + "/runs/0000000000000000", screenshot: "404.png")
        XCTAssertTrue(missing.contains("<h1>No such run</h1>"), missing)

        XCTAssertEqual(server.stop(), 0, server.stderr)
    }

    func testThePortInUseIsAClearError() throws {
        _ = try recordRuns()
        let first = try startServer()
        let second = try sluice(["traces", "serve", "--db", db, "--port", String(first.port)], timeLimit: 30)
        XCTAssertEqual(second.code, 2, second.stderr)
        XCTAssertTrue(second.stderr.contains("error: port \(first.port) on 127.0.0.1 is already in use"), second.stderr)
        XCTAssertEqual(first.stop(), 0)
    }

    func testAMissingOrCorruptStoreIsAClearErrorAtStart() throws {
        let missing = try sluice(["traces", "serve", "--db", db, "--port", "0"], timeLimit: 30)
        XCTAssertEqual(missing.code, 2)
        XCTAssertTrue(missing.stderr.contains("error: there is no store at \(db)"), missing.stderr)
        try Data("not a database, just text that is long enough to be read as a header".utf8).write(to: URL(fileURLWithPath: db))
        let corrupt = try sluice(["traces", "serve", "--db", db, "--port", "0"], timeLimit: 30)
        XCTAssertEqual(corrupt.code, 2)
        XCTAssertTrue(corrupt.stderr.contains("error: cannot read the store \(db)"), corrupt.stderr)
        XCTAssertTrue(corrupt.stderr.contains("file is not a database"), corrupt.stderr)
        let port = try sluice(["traces", "serve", "--db", db, "--port", "65536"], timeLimit: 30)
        XCTAssertEqual(port.code, 2)
        XCTAssertTrue(port.stderr.contains("error: --port 65536 is not a port (0 to 65535)"), port.stderr)
    }

    // MARK: Chromium

    static var chromium: URL? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser"] {
                let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            }
        }
        return nil
    }

    /// The page's DOM after Chromium rendered it (what a person sees); with `screenshot`, also a
    /// 1280×1400 picture of it in the scratch folder, checked to be a real PNG.
    private func render(_ chromium: URL, _ url: String, screenshot: String? = nil) throws -> String {
        let dom = try runChromium(chromium, ["--dump-dom", url])
        if let screenshot {
            let file = scratch.appendingPathComponent(screenshot)
            _ = try runChromium(chromium, ["--screenshot=\(file.path)", "--window-size=1280,1400", "--hide-scrollbars", url])
            let png = try Data(contentsOf: file)
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(screenshot) is a PNG")
            XCTAssertGreaterThan(png.count, 10_000, "\(screenshot) shows a page, not a blank")
        }
        return dom
    }

    private func runChromium(_ chromium: URL, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = chromium
        // As root Chromium needs --no-sandbox; a profile of its own keeps runs from sharing state.
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--user-data-dir=\(scratch.appendingPathComponent("chromium-profile").path)"] + arguments
        process.currentDirectoryURL = scratch
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stopper = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 90, execute: stopper)
        defer { stopper.cancel() }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "chromium \(arguments.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }
}
