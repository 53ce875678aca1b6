import ArgumentParser
import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceSyntax

/// `sluice metric`: a reference-exact metric over two files of one item per line, outside any
/// pipeline.
struct MetricCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metric",
        abstract: "Score predictions against references, one item per line.",
        discussion: """
            NAME is bleu or chrf (the corpus score, as sacrebleu 2.4 computes it with its defaults, on its 0–100 scale), rouge1, rouge2, rougeL or rougeLsum (as Google's rouge-score computes them: the mean over lines of each line's precision, recall and F; --stem applies the Porter stemmer), exact (the fraction of lines equal once trimmed), or similarity (the mean over lines of the cosine similarity of the two lines' embeddings by --model, an embedding model of std.models, negative similarities counted as 0, as the `similarity` metric of `score` does; the provider's embeddings endpoint is called, and the tokens and cost are printed; --replies answers offline with hashed bag-of-words vectors).

            Lines end at \\n (a \\r before it is dropped); both files must have the same number. --json prints {"metric", "score", "lines"}, with "precision", "recall" and "stemmed" for ROUGE. Exit status 2 for an unknown metric, a missing or unreadable file, input that is not UTF-8, and files of different lengths.
            """
    )

    enum Name: String, CaseIterable {
        case bleu, chrf, rouge1, rouge2, rougeL, rougeLsum, exact, similarity
    }

    /// Texts sent in one embeddings request.
    static let embeddingBatch = 128

    @ArgumentParser.Argument(help: "bleu, chrf, rouge1, rouge2, rougeL, rougeLsum, exact or similarity.") var metric: String
    @Option(name: .long, help: "The references, one per line.") var reference: String
    @Option(name: .long, help: "The predictions, one per line, in the same order.") var prediction: String
    @Flag(name: .long, help: "ROUGE only: apply the Porter stemmer (rouge-score's use_stemmer=True).") var stem = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false
    @Option(name: .long, help: "similarity only: the embedding model, from std.models.") var model = "text_embedding_3_small"
    @OptionGroup var providers: ProviderOptions

    func run() async throws {
        guard let name = Name(rawValue: metric) else {
            let known = Name.allCases.map(\.rawValue)
            let hint = closestMatch(to: metric, in: known).map { " (did you mean `\($0)`?)" } ?? ""
            throw UsageError("unknown metric `\(metric)`\(hint); known: \(known.joined(separator: ", "))").exit()
        }
        let kind = ROUGE.Kind(rawValue: name.rawValue)
        if stem && kind == nil { throw UsageError("--stem applies to the ROUGE metrics, not `\(metric)`").exit() }
        if name != .similarity, model != "text_embedding_3_small" { throw UsageError("--model applies to `similarity`, not `\(metric)`").exit() }
        let references = try Self.lines(of: reference)
        let predictions = try Self.lines(of: prediction)
        guard references.count == predictions.count else {
            throw UsageError("\(reference) has \(Self.count(references.count)), \(prediction) has \(Self.count(predictions.count)): "
                + "each prediction is scored against the reference on the same line").exit()
        }
        guard !references.isEmpty else { throw UsageError("\(reference) and \(prediction) are empty: there is nothing to score").exit() }
        let pairs = zip(references, predictions).map { (reference: $0, prediction: $1) }

        var fields: [(String, JSONValue)] = [("metric", .string(name.rawValue))]
        let summary: String
        if name == .similarity {
            let result = try await similarity(pairs)
            fields += [("score", .number(result.score)), ("model", .string(model)), ("tokens", .number(Double(result.tokens))),
                       ("cost", NumberDisplay.moneyJSON(result.cost))]
            summary = "similarity \(Self.fixed(result.score, 4))  (mean of \(Self.count(pairs.count)), \(model), "
                + "\(result.tokens) tokens, \(formatMoney(result.cost)))"
        } else if let kind {
            let score = ROUGE.mean(kind, pairs, stemming: stem)
            fields += [("score", .number(score.fmeasure)), ("precision", .number(score.precision)), ("recall", .number(score.recall)),
                       ("stemmed", .bool(stem))]
            summary = "\(name.rawValue) F \(Self.fixed(score.fmeasure, 4))  precision \(Self.fixed(score.precision, 4))  recall "
                + "\(Self.fixed(score.recall, 4))  (mean of \(Self.count(pairs.count))\(stem ? ", stemmed" : ""))"
        } else {
            let score = switch name {
            case .bleu: BLEU.corpus(pairs)
            case .chrf: ChrF.corpus(pairs)
            case .exact: ExactMatch.mean(pairs)
            case .rouge1, .rouge2, .rougeL, .rougeLsum, .similarity: preconditionFailure("ROUGE and similarity are scored above")
            }
            fields.append(("score", .number(score)))
            summary = name == .exact
                ? "exact \(Self.fixed(score, 4))  (\(Self.count(pairs.count)))"
                : "\(name == .bleu ? "BLEU" : "chrF2") \(Self.fixed(score, 2))  (corpus of \(Self.count(pairs.count)))"
        }
        fields.append(("lines", .number(Double(pairs.count))))
        Terminal.out(json ? JSONValue.object(fields).serialized() : summary)
    }

    /// The mean cosine similarity (negatives as 0) of each pair's embeddings, with the tokens
    /// embedded and what they cost at the model's input price.
    func similarity(_ pairs: [(reference: String, prediction: String)]) async throws -> (score: Double, tokens: Int, cost: Double) {
        for (index, pair) in pairs.enumerated() {
            for (text, file) in [(pair.reference, reference), (pair.prediction, prediction)]
            where text.trimmingCharacters(in: .whitespaces).isEmpty {
                throw UsageError("\(file):\(index + 1) is empty: an empty text has no embedding to compare").exit()
            }
        }
        let provider: ModelProvider
        let spec: ModelSpec
        do {
            provider = try providers.makeProvider()
            spec = try commandLineModel(model, option: "--model", listing: { $0.contains("embedding") }, provider: provider)
        } catch let error as UsageError { throw error.exit() }
        guard let embedder = provider as? EmbeddingProvider else { throw UsageError("the providers of this command cannot embed text").exit() }
        let texts = pairs.flatMap { [$0.reference, $0.prediction] }
        var vectors: [[Float]] = []
        var tokens = 0
        let counter = defaultTokenCounter()
        for start in stride(from: 0, to: texts.count, by: Self.embeddingBatch) {
            let batch = Array(texts[start..<min(start + Self.embeddingBatch, texts.count)])
            let result: Embeddings
            do { result = try await embedder.embedWithUsage(batch, model: spec) } catch {
                Terminal.error("error: embedding with `\(model)` failed: \(error)")
                throw Exit.scriptError
            }
            guard result.vectors.count == batch.count else {
                Terminal.error("error: embedding with `\(model)`: asked for \(batch.count) embeddings, got \(result.vectors.count)")
                throw Exit.scriptError
            }
            vectors += result.vectors
            tokens += result.inputTokens ?? batch.reduce(0) { $0 + counter.count($1, encoding: spec.tokenizer) }
        }
        var total = 0.0
        for index in pairs.indices { total += max(0, min(1, cosineSimilarity(vectors[2 * index], vectors[2 * index + 1]))) }
        return (total / Double(pairs.count), tokens, Double(tokens) * spec.inputPrice)
    }

    /// The file's lines: split at "\n", a "\r" before it dropped; a final "\n" ends the last line.
    static func lines(of path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw UsageError("no such file: \(path)").exit() }
        guard !isDirectory.boolValue else { throw UsageError("\(path) is a folder, not a file").exit() }
        guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("cannot read \(path) (permission denied?)").exit() }
        let text = try TokensCommand.decode(data, label: path)
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line))
        }
        if text.unicodeScalars.last == "\n" || text.isEmpty { lines.removeLast() }
        return lines
    }

    static func count(_ lines: Int) -> String { lines == 1 ? "1 line" : "\(lines) lines" }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
