import Foundation
import XCTest

/// `sluice tokens`, end to end: the built binary run as a user would (counts checked against
/// tiktoken 0.14.0).
final class TokensCommandTests: SluiceCLITestCase {
    func json(_ result: Result) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    }

    func testCountsStandardInput() throws {
        let result = try sluice(["tokens"], stdin: Data("tiktoken is great!".utf8))
        XCTAssertEqual(result.code, 0, result.stderr)
        XCTAssertEqual(result.stdout, "6\n")
        let cl100k = try sluice(["tokens", "--encoding", "cl100k_base", "--json"], stdin: Data("Ünïcödé 中文 and code: let x = 42\n".utf8))
        XCTAssertEqual(cl100k.code, 0, cl100k.stderr)
        let object = try json(cl100k)
        XCTAssertEqual(object["encoding"] as? String, "cl100k_base")
        XCTAssertEqual(object["tokens"] as? Int, 18)
        XCTAssertEqual(object["exact"] as? Bool, true)
    }

    func testCountsFilesWithATotal() throws {
        let a = try write("a.txt", "Ünïcödé 中文 and code: let x = 42\n")
        let b = try write("b.txt", "DON'T stop\r\n  now   ")
        let plain = try sluice(["tokens", "--model", "gpt-4o", a, b])
        XCTAssertEqual(plain.code, 0, plain.stderr)
        XCTAssertEqual(plain.stdout, "15 \(a)\n 7 \(b)\n22 total\n")
        let result = try sluice(["tokens", "--model", "gpt_4o", "--json", a, b])
        let object = try json(result)
        XCTAssertEqual(object["encoding"] as? String, "o200k_base")
        XCTAssertEqual(object["model"] as? String, "gpt_4o")
        XCTAssertEqual(object["tokens"] as? Int, 22)
        let files = try XCTUnwrap(object["files"] as? [[String: Any]])
        XCTAssertEqual(files.map { $0["file"] as? String }, [a, b])
        XCTAssertEqual(files.map { $0["tokens"] as? Int }, [15, 7])
    }

    func testModelsWithoutAPublicTokenizerAreEstimated() throws {
        let result = try sluice(["tokens", "--model", "claude_sonnet", "--json"], stdin: Data("Hello there, how are you?".utf8))
        XCTAssertEqual(result.code, 0, result.stderr)
        let object = try json(result)
        XCTAssertEqual(object["encoding"] as? String, "estimate")
        XCTAssertEqual(object["exact"] as? Bool, false)
        XCTAssertGreaterThan(object["tokens"] as? Int ?? 0, 0)
        let plain = try sluice(["tokens", "--model", "claude_sonnet"], stdin: Data("Hello".utf8))
        XCTAssertTrue(plain.stderr.contains("estimate"), plain.stderr)
    }

    func testSpecialTokensAreTextUnlessAllowed() throws {
        XCTAssertEqual(try sluice(["tokens"], stdin: Data("<|endoftext|>".utf8)).stdout, "7\n")
        XCTAssertEqual(try sluice(["tokens", "--allow-special"], stdin: Data("<|endoftext|>".utf8)).stdout, "1\n")
    }

    func testBadInputIsAUsageError() throws {
        let invalid = try sluice(["tokens"], stdin: Data([0x61, 0xFF, 0x62]))
        XCTAssertEqual(invalid.code, 2)
        XCTAssertTrue(invalid.stderr.contains("standard input is not valid UTF-8 (first bad byte at offset 1)"), invalid.stderr)
        let unknownEncoding = try sluice(["tokens", "--encoding", "p50k_base"], stdin: Data())
        XCTAssertEqual(unknownEncoding.code, 2)
        XCTAssertTrue(unknownEncoding.stderr.contains("unknown encoding `p50k_base`"), unknownEncoding.stderr)
        let unknownModel = try sluice(["tokens", "--model", "gpt_4oo"], stdin: Data())
        XCTAssertEqual(unknownModel.code, 2)
        XCTAssertTrue(unknownModel.stderr.contains("did you mean `gpt_4o`?"), unknownModel.stderr)
        let missing = try sluice(["tokens", "no/such/file.txt"])
        XCTAssertEqual(missing.code, 2)
        XCTAssertTrue(missing.stderr.contains("no such file: no/such/file.txt"), missing.stderr)
        XCTAssertEqual(try sluice(["tokens", "--encoding", "o200k_base", "--model", "gpt_4o"], stdin: Data()).code, 2)
    }

    func testCorruptedRankFileIsRefused() throws {
        let original = Self.repo.appendingPathComponent("Sources/SluiceTokenizers/Resources/o200k_base.tiktoken")
        var data = try Data(contentsOf: original)
        data[data.count / 2] ^= 0x20
        try data.write(to: scratch.appendingPathComponent("o200k_base.tiktoken"))
        let result = try sluice(["tokens"], stdin: Data("hi".utf8), environment: ["SLUICE_TOKENIZER_DIR": scratch.path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.stderr.contains("is not the published rank file"), result.stderr)
        let missing = try sluice(["tokens", "--encoding", "cl100k_base"], stdin: Data("hi".utf8),
                                 environment: ["SLUICE_TOKENIZER_DIR": scratch.path])
        XCTAssertEqual(missing.code, 1)
        XCTAssertTrue(missing.stderr.contains(scratch.appendingPathComponent("cl100k_base.tiktoken").path), missing.stderr)
    }
}
