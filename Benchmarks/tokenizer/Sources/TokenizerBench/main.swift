// Times Sluice's tokenizers on a corpus file, single-threaded; run by Benchmarks/tokenizer/run.sh.
//
//   TokenizerBench CORPUS ENCODING REPEATS IDS_OUT
//
// Prints one JSON line: the best and median seconds of `encode` and `count` over the whole
// corpus, and of `encode` over it in 4 KB pieces (as a pipeline would count prompts), plus the
// token count. Writes the ids of the whole-corpus encode as little-endian UInt32 to IDS_OUT, so
// the runner can check them against tiktoken's.
import Foundation
import SluiceTokenizers

let args = CommandLine.arguments
guard args.count == 5, let repeats = Int(args[3]) else {
    FileHandle.standardError.write(Data("usage: TokenizerBench CORPUS ENCODING REPEATS IDS_OUT\n".utf8))
    exit(2)
}
let data = try Data(contentsOf: URL(fileURLWithPath: args[1]))
guard let text = String(data: data, encoding: .utf8) else { fatalError("corpus is not UTF-8") }
let tokenizer = try BPETokenizer.named(args[2])

// Pieces of about 4 KB, cut at line ends (by bytes, as bench_tiktoken.py cuts them: every line,
// the empty one after the final newline included, gets a newline).
var pieces: [String] = []
var current: [UInt8] = []
for line in [UInt8](data).split(separator: 0x0A, omittingEmptySubsequences: false) {
    current.append(contentsOf: line)
    current.append(0x0A)
    if current.count >= 4096 { pieces.append(String(decoding: current, as: UTF8.self)); current = [] }
}
if !current.isEmpty { pieces.append(String(decoding: current, as: UTF8.self)) }

func time(_ body: () -> Int) -> (best: Double, median: Double, result: Int) {
    var times: [Double] = []
    var result = 0
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        result = body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    times.sort()
    return (times[0], times[times.count / 2], result)
}

var ids: [Int] = []
let encode = time { ids = tokenizer.encode(text); return ids.count }
let count = time { tokenizer.count(text) }
let chunked = time { pieces.reduce(0) { $0 + tokenizer.encode($1).count } }
precondition(encode.result == count.result, "count differs from encode")

var out = Data(capacity: ids.count * 4)
for id in ids { withUnsafeBytes(of: UInt32(id).littleEndian) { out.append(contentsOf: $0) } }
try out.write(to: URL(fileURLWithPath: args[4]))

print("""
{"impl": "sluice", "encoding": "\(args[2])", "bytes": \(data.count), "tokens": \(encode.result), \
"encode_best": \(encode.best), "encode_median": \(encode.median), "count_best": \(count.best), \
"count_median": \(count.median), "chunked_best": \(chunked.best), "chunked_median": \(chunked.median), \
"chunked_tokens": \(chunked.result)}
""")
