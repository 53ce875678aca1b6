import Foundation
import SluiceSemantics
import XCTest
@testable import SluiceRuntime

/// BLEU, chrF and ROUGE against the numbers the reference implementations (sacrebleu 2.4.3,
/// rouge-score 0.1.2 with nltk's Porter stemmer) give on the same corpus, written by
/// scripts/metric-references into Fixtures/metrics/references.json.
final class MetricsTests: XCTestCase {
    struct References: Decodable {
        struct Pair: Decodable {
            var reference: String
            var prediction: String
            var bleu: Double
            var chrf: Double
            /// Per ROUGE kind: [precision, recall, F].
            var rouge: [String: [Double]]
            var rouge_stemmed: [String: [Double]]
        }
        struct Mean: Decodable { var precision: Double; var recall: Double; var fmeasure: Double }
        struct Files: Decodable {
            var lines: Int
            var bleu: Double
            var chrf: Double
            var rouge: [String: Mean]
            var rouge_stemmed: [String: Mean]
        }
        var pairs: [Pair]
        var corpus: [String: Double]
        var files: Files
        var stems: [String: String]
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/metrics")
    static let references: References = {
        let data = try! Data(contentsOf: folder.appendingPathComponent("references.json"))
        return try! JSONDecoder().decode(References.self, from: data)
    }()

    let tolerance = 1e-9

    func testTheCorpusCoversTheEdges() {
        let pairs = Self.references.pairs
        XCTAssertGreaterThanOrEqual(pairs.count, 250)
        XCTAssertTrue(pairs.contains { $0.reference.isEmpty && $0.prediction.isEmpty })
        XCTAssertTrue(pairs.contains { $0.reference.unicodeScalars.count > 1000 })
        XCTAssertTrue(pairs.contains { $0.reference.contains("\n") })
        XCTAssertTrue(pairs.contains { $0.reference.unicodeScalars.contains { !$0.isASCII } })
    }

    func testSentenceBLEUEqualsSacrebleu() {
        for (i, pair) in Self.references.pairs.enumerated() {
            XCTAssertEqual(BLEU.sentence(reference: pair.reference, prediction: pair.prediction), pair.bleu, accuracy: tolerance,
                           "pair \(i): \(pair.reference.debugDescription) / \(pair.prediction.debugDescription)")
        }
    }

    func testSentenceChrFEqualsSacrebleu() {
        for (i, pair) in Self.references.pairs.enumerated() {
            XCTAssertEqual(ChrF.sentence(reference: pair.reference, prediction: pair.prediction), pair.chrf, accuracy: tolerance,
                           "pair \(i): \(pair.reference.debugDescription) / \(pair.prediction.debugDescription)")
        }
    }

    func testCorpusBLEUAndChrFEqualSacrebleu() throws {
        let pairs = Self.references.pairs.map { (reference: $0.reference, prediction: $0.prediction) }
        XCTAssertEqual(BLEU.corpus(pairs), try XCTUnwrap(Self.references.corpus["bleu"]), accuracy: tolerance)
        XCTAssertEqual(ChrF.corpus(pairs), try XCTUnwrap(Self.references.corpus["chrf"]), accuracy: tolerance)
        // No match at all scores zero, not NaN.
        XCTAssertEqual(BLEU.corpus([(reference: "a b", prediction: "c d")]), 0)
        XCTAssertEqual(BLEU.corpus([]), 0)
        XCTAssertEqual(ChrF.corpus([]), 0)
    }

    func testROUGEEqualsRougeScoreWithAndWithoutStemming() throws {
        for (i, pair) in Self.references.pairs.enumerated() {
            for (stemming, expected) in [(false, pair.rouge), (true, pair.rouge_stemmed)] {
                for kind in ROUGE.Kind.allCases {
                    let values = try XCTUnwrap(expected[kind.rawValue])
                    let score = ROUGE.score(kind, reference: pair.reference, prediction: pair.prediction, stemming: stemming)
                    let context = "pair \(i) \(kind.rawValue) stemming \(stemming): \(pair.reference.debugDescription) / \(pair.prediction.debugDescription)"
                    XCTAssertEqual(score.precision, values[0], accuracy: tolerance, context)
                    XCTAssertEqual(score.recall, values[1], accuracy: tolerance, context)
                    XCTAssertEqual(score.fmeasure, values[2], accuracy: tolerance, context)
                }
            }
        }
    }

    func testROUGEOverAFileIsTheMeanOfItsLines() throws {
        let files = Self.references.files
        let references = try String(contentsOf: Self.folder.appendingPathComponent("reference.txt"), encoding: .utf8)
        let predictions = try String(contentsOf: Self.folder.appendingPathComponent("prediction.txt"), encoding: .utf8)
        let lines = { (text: String) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { String(String.UnicodeScalarView($0)) } }
        let pairs = zip(lines(references), lines(predictions)).map { (reference: $0, prediction: $1) }
        XCTAssertEqual(pairs.count, files.lines)
        for (stemming, expected) in [(false, files.rouge), (true, files.rouge_stemmed)] {
            for kind in ROUGE.Kind.allCases {
                let mean = ROUGE.mean(kind, pairs, stemming: stemming)
                let values = try XCTUnwrap(expected[kind.rawValue])
                XCTAssertEqual(mean.precision, values.precision, accuracy: tolerance, "\(kind.rawValue) stemming \(stemming)")
                XCTAssertEqual(mean.recall, values.recall, accuracy: tolerance, "\(kind.rawValue) stemming \(stemming)")
                XCTAssertEqual(mean.fmeasure, values.fmeasure, accuracy: tolerance, "\(kind.rawValue) stemming \(stemming)")
            }
        }
        XCTAssertEqual(BLEU.corpus(pairs), files.bleu, accuracy: tolerance)
        XCTAssertEqual(ChrF.corpus(pairs), files.chrf, accuracy: tolerance)
    }

    func testPorterStemmerEqualsNLTK() {
        let stems = Self.references.stems
        XCTAssertGreaterThan(stems.count, 3000)
        var wrong: [String] = []
        for (word, stem) in stems.sorted(by: { $0.key < $1.key }) where PorterStemmer.stem(word) != stem {
            wrong.append("\(word): \(PorterStemmer.stem(word)), nltk \(stem)")
        }
        XCTAssertEqual(wrong, [], "\(wrong.count) of \(stems.count) words stem differently")
    }

    func testTheThirteenATokenizerSplitsAsSacrebleu() {
        // A few of the rules, spelled out (the corpus above checks them all through BLEU).
        XCTAssertEqual(Tokenizer13a.tokens("It costs $1,000.50, right?").map { String(decoding: $0.map { UInt8($0) }, as: UTF8.self) },
                       ["It", "costs", "$", "1,000.50", ",", "right", "?"])
        XCTAssertEqual(Tokenizer13a.tokens("&amp;lt; 3-4 well-known").map { String(decoding: $0.map { UInt8($0) }, as: UTF8.self) },
                       ["<", "3", "-", "4", "well-known"])
    }

    func testEveryROUGEMetricOfScoreIsAROUGEKind() {
        let rougeMetrics = BuiltinMetric.allCases.filter { $0.rawValue.hasPrefix("rouge") }
        XCTAssertEqual(Set(rougeMetrics.map(\.rawValue)), Set(ROUGE.Kind.allCases.map(\.rawValue)))
    }

    // MARK: in `score`

    func testScoreStageMetricsAreTheSentenceScores() async throws {
        let pair = try XCTUnwrap(Self.references.pairs.first { $0.rouge["rougeL"]![2] > 0.3 && $0.rouge["rougeL"]![2] < 0.9 && $0.bleu > 5 })
        let program = try checkedProgram("""
            pipeline main(prediction: string, reference: string) -> string {
              score prediction with bleu(reference), chrf(reference), rouge1(reference), rouge2(reference, false), rougeL(reference), rougeLsum(reference, true)
              return prediction
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: EchoProvider(), trace: MemoryTrace()))
        let result = try await interpreter.run(pipeline: "main", inputs: ["prediction": .string(pair.prediction), "reference": .string(pair.reference)])
        let scores = Dictionary(uniqueKeysWithValues: result.scores.map { ($0.name, $0.value) })
        XCTAssertEqual(try XCTUnwrap(scores["bleu"]), pair.bleu / 100, accuracy: tolerance)
        XCTAssertEqual(try XCTUnwrap(scores["chrf"]), pair.chrf / 100, accuracy: tolerance)
        XCTAssertEqual(try XCTUnwrap(scores["rouge1"]), pair.rouge["rouge1"]![2], accuracy: tolerance)
        XCTAssertEqual(try XCTUnwrap(scores["rouge2"]), pair.rouge["rouge2"]![2], accuracy: tolerance)
        XCTAssertEqual(try XCTUnwrap(scores["rougeL"]), pair.rouge["rougeL"]![2], accuracy: tolerance)
        XCTAssertEqual(try XCTUnwrap(scores["rougeLsum"]), pair.rouge_stemmed["rougeLsum"]![2], accuracy: tolerance)
    }

    func testROUGEStemmingArgumentMustBeABool() async throws {
        let program = try checkedProgram("""
            pipeline main(prediction: string) -> string {
              score prediction with rougeL("the cat", "yes")
              return prediction
            }
            """)
        let interpreter = Interpreter(program: program, effects: testEffects(provider: EchoProvider(), trace: MemoryTrace()))
        do {
            _ = try await interpreter.run(pipeline: "main", inputs: ["prediction": .string("a cat")])
            XCTFail("a string is not a stemming flag")
        } catch let error as RunFailure {
            XCTAssertTrue("\(error)".contains("metric `rougeL`: the second argument says whether to stem words"), "\(error)")
        }
    }
}
