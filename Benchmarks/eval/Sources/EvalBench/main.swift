// Times Sluice's JSON Schema validator and reference metrics on the files Benchmarks/eval/run.sh
// generates, single-threaded; the same work as bench_python.py.
//
//   EvalBench FOLDER REPEATS
//
// Prints one JSON line: the best and median seconds of REPEATS timings of validating every
// document (already parsed) for a verdict, and for every violation; corpus BLEU and chrF; ROUGE-1
// and ROUGE-L F averaged over lines; and the results, which run.sh compares with Python's.
import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceSyntax

let args = CommandLine.arguments
guard args.count == 3, let repeats = Int(args[2]), repeats > 0 else {
    FileHandle.standardError.write(Data("usage: EvalBench FOLDER REPEATS\n".utf8))
    exit(2)
}
let folder = URL(fileURLWithPath: args[1])
func read(_ name: String) throws -> String { try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8) }

let validator = try JSONSchemaValidator(schema: try JSONValue.parse(try read("schema.json")))
let documents = try read("documents.jsonl").split(separator: "\n").map { try JSONValue.parse(String($0)) }
let references = try read("reference.txt").split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
let predictions = try read("prediction.txt").split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
let pairs = zip(references, predictions).map { (reference: $0, prediction: $1) }

func timed<T>(_ work: () -> T) -> (JSONValue, T) {
    var times: [Double] = []
    var result = work()   // a warm-up run, not timed
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        result = work()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let sorted = times.sorted()
    let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    return (.object([("best", .number(sorted[0])), ("median", .number(median))]), result)
}

let (validateTime, valid) = timed { documents.filter(validator.isValid).count }
let (errorsTime, errors) = timed { documents.reduce(0) { $0 + validator.validate($1).count } }
let (bleuTime, bleu) = timed { BLEU.corpus(pairs) }
let (chrfTime, chrf) = timed { ChrF.corpus(pairs) }
let (rougeTime, rouge) = timed { (ROUGE.mean(.rouge1, pairs).fmeasure, ROUGE.mean(.rougeL, pairs).fmeasure) }

print(JSONValue.object([
    ("impl", .string("sluice")), ("documents", .number(Double(documents.count))), ("valid", .number(Double(valid))),
    ("errors", .number(Double(errors))), ("validate", validateTime), ("validate_errors", errorsTime),
    ("lines", .number(Double(pairs.count))), ("bleu", .number(bleu)), ("chrf", .number(chrf)),
    ("rouge1", .number(rouge.0)), ("rougeL", .number(rouge.1)),
    ("bleu_time", bleuTime), ("chrf_time", chrfTime), ("rouge_time", rougeTime),
]).serialized())
