import Foundation
import XCTest

/// `sluice metric`, end to end, over the files scripts/metric-references scored with sacrebleu
/// 2.4.3 and rouge-score 0.1.2 (Tests/SluiceRuntimeTests/Fixtures/metrics).
final class MetricCommandTests: SluiceCLITestCase {
    static let folder = repo.appendingPathComponent("Tests/SluiceRuntimeTests/Fixtures/metrics")
    static let referencePath = folder.appendingPathComponent("reference.txt").path
    static let predictionPath = folder.appendingPathComponent("prediction.txt").path

    struct Expected: Decodable {
        struct Mean: Decodable { var precision: Double; var recall: Double; var fmeasure: Double }
        struct Files: Decodable {
            var lines: Int
            var bleu: Double
            var chrf: Double
            var rouge: [String: Mean]
            var rouge_stemmed: [String: Mean]
        }
        var files: Files
    }

    func expected() throws -> Expected.Files {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.folder.appendingPathComponent("references.json"))).files
    }

    func metric(_ name: String, _ extra: [String] = []) throws -> [String: Any] {
        let result = try sluice(["metric", name, "--reference", Self.referencePath, "--prediction", Self.predictionPath, "--json"] + extra)
        XCTAssertEqual(result.code, 0, result.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    }

    func testCorpusBLEUAndChrFEqualSacrebleu() throws {
        let files = try expected()
        for (name, value) in [("bleu", files.bleu), ("chrf", files.chrf)] {
            let object = try metric(name)
            XCTAssertEqual(object["metric"] as? String, name)
            XCTAssertEqual(try XCTUnwrap(object["score"] as? Double), value, accuracy: 1e-9, name)
            XCTAssertEqual(object["lines"] as? Int, files.lines)
        }
    }

    func testROUGEIsTheMeanOfThePerLineScoresOfRougeScore() throws {
        let files = try expected()
        for (stemming, means) in [(false, files.rouge), (true, files.rouge_stemmed)] {
            for name in ["rouge1", "rouge2", "rougeL", "rougeLsum"] {
                let object = try metric(name, stemming ? ["--stem"] : [])
                let mean = try XCTUnwrap(means[name])
                XCTAssertEqual(try XCTUnwrap(object["score"] as? Double), mean.fmeasure, accuracy: 1e-9, "\(name) stemming \(stemming)")
                XCTAssertEqual(try XCTUnwrap(object["precision"] as? Double), mean.precision, accuracy: 1e-9, "\(name) stemming \(stemming)")
                XCTAssertEqual(try XCTUnwrap(object["recall"] as? Double), mean.recall, accuracy: 1e-9, "\(name) stemming \(stemming)")
                XCTAssertEqual(object["stemmed"] as? Bool, stemming)
            }
        }
    }

    func testPlainOutputAndLineEndings() throws {
        // CRLF and a missing final newline end lines as "\n" does: two lines each, both equal.
        let reference = try write("ref.txt", "The cat sat.\r\nA dog ran")
        let prediction = try write("pred.txt", "the cat sat.\nA dog ran\n")
        let exact = try sluice(["metric", "exact", "--reference", reference, "--prediction", prediction])
        XCTAssertEqual(exact.code, 0, exact.stderr)
        XCTAssertEqual(exact.stdout, "exact 0.5000  (2 lines)\n")
        let rouge = try sluice(["metric", "rougeL", "--reference", reference, "--prediction", prediction])
        XCTAssertEqual(rouge.stdout, "rougeL F 1.0000  precision 1.0000  recall 1.0000  (mean of 2 lines)\n")
        let bleu = try sluice(["metric", "bleu", "--reference", reference, "--prediction", reference])
        XCTAssertEqual(bleu.stdout, "BLEU 100.00  (corpus of 2 lines)\n")
    }

    func testBadInputIsAUsageError() throws {
        let two = try write("two.txt", "a\nb\n")
        let three = try write("three.txt", "a\nb\nc\n")
        let empty = try write("empty.txt", "")
        let cases: [([String], String)] = [
            (["metric", "rogueL", "--reference", two, "--prediction", two], "unknown metric `rogueL` (did you mean `rougeL`?)"),
            (["metric", "bleu", "--stem", "--reference", two, "--prediction", two], "--stem applies to the ROUGE metrics, not `bleu`"),
            (["metric", "chrf", "--reference", two, "--prediction", three], "\(two) has 2 lines, \(three) has 3 lines"),
            (["metric", "chrf", "--reference", empty, "--prediction", empty], "there is nothing to score"),
            (["metric", "bleu", "--reference", "no/such.txt", "--prediction", two], "no such file: no/such.txt"),
            (["metric", "bleu", "--reference", scratch.path, "--prediction", two], "is a folder, not a file"),
        ]
        for (args, message) in cases {
            let result = try sluice(args)
            XCTAssertEqual(result.code, 2, args.joined(separator: " "))
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
        }
        let invalid = scratch.appendingPathComponent("bad.txt")
        try Data([0x61, 0x0A, 0xFF]).write(to: invalid)
        let result = try sluice(["metric", "bleu", "--reference", invalid.path, "--prediction", two])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.stderr.contains("is not valid UTF-8 (first bad byte at offset 2)"), result.stderr)
    }

    func testSimilarityIsTheMeanCosineOfTheLinesEmbeddings() throws {
        // Offline (--replies): the scripted provider embeds a text as its hashed bag of words, so
        // equal lines are 1 apart and lines with no word in common 0.
        let replies = try write("replies.jsonl", "")
        let references = try write("ref.txt", "the cat sat on the mat\nhello world\n")
        let predictions = try write("pred.txt", "the cat sat on the mat\ngoodbye moon\n")
        let result = try sluice(["metric", "similarity", "--reference", references, "--prediction", predictions, "--replies", replies, "--json"])
        XCTAssertEqual(result.code, 0, result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(object["score"] as? Double), 0.5, accuracy: 1e-6)
        XCTAssertEqual(object["model"] as? String, "text_embedding_3_small")
        XCTAssertEqual(object["lines"] as? Int, 2)
        let tokens = try XCTUnwrap(object["tokens"] as? Int)
        XCTAssertGreaterThan(tokens, 0)
        // text-embedding-3-small costs $0.02 per million tokens.
        XCTAssertEqual(try XCTUnwrap(object["cost"] as? Double), Double(tokens) * 0.02 / 1_000_000, accuracy: 1e-12)
        let table = try sluice(["metric", "similarity", "--reference", references, "--prediction", predictions, "--replies", replies])
        XCTAssertTrue(table.stdout.hasPrefix("similarity 0.5000  (mean of 2 lines, text_embedding_3_small, \(tokens) tokens, $"), table.stdout)

        let blank = try write("blank.txt", "a\n \n")
        let cases: [([String], String)] = [
            (["--reference", blank, "--prediction", references], "\(blank):2 is empty: an empty text has no embedding to compare"),
            (["--reference", references, "--prediction", predictions, "--model", "text_embeding_3_small"],
             "unknown model `text_embeding_3_small` (did you mean `text_embedding_3_small`?)"),
        ]
        for (args, message) in cases {
            let failed = try sluice(["metric", "similarity", "--replies", replies] + args)
            XCTAssertEqual(failed.code, 2, args.joined(separator: " "))
            XCTAssertTrue(failed.stderr.contains(message), failed.stderr)
        }
        let misplaced = try sluice(["metric", "bleu", "--reference", references, "--prediction", predictions, "--model", "x"])
        XCTAssertEqual(misplaced.code, 2)
        XCTAssertTrue(misplaced.stderr.contains("--model applies to `similarity`, not `bleu`"), misplaced.stderr)
    }
}
