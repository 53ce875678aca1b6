import Foundation
import SluiceRuntime
import SluiceSemantics
import SluiceServices
import SluiceSyntax

/// The model a command names on its command line (`sluice metric similarity --model M`,
/// `sluice test --compare-model M`), resolved as a run resolves it: from `program` when it
/// declares or imports the name, else from the catalog in `std.models`. An unknown name is a
/// usage error with the closest known one, listing the known names `listing` keeps.
func commandLineModel(_ name: String, option: String, program: Program? = nil, listing filter: (String) -> Bool = { _ in true },
                      provider: ModelProvider) throws -> ModelSpec {
    let catalog = Checker.check(Parser.parse(SourceFile(path: "<\(option)>", text: "use std.models")).module, loader: FileModuleLoader()).program
    guard let source = [program, catalog].compactMap({ $0 }).first(where: { $0.models[name] != nil }) else {
        let known = Set(catalog.models.keys).union(program?.models.keys ?? [:].keys)
        let hint = closestMatch(to: name, in: known).map { " (did you mean `\($0)`?)" } ?? ""
        throw UsageError("\(option): unknown model `\(name)`\(hint); known: \(known.filter(filter).sorted().joined(separator: ", "))")
    }
    // This interpreter runs no pipeline: it only resolves the model's declaration.
    do {
        return try Interpreter(program: source, effects: RuntimeEffects(
            provider: provider, retrieval: NoIndexes(), trace: DiscardingTraceSink(), clock: SystemClock(), random: SystemRandom(),
            tokens: defaultTokenCounter())).modelSpec(named: name)
    } catch {
        throw UsageError("\(option): model `\(name)`: \(error.message)")
    }
}

/// Resolving a model reads no index.
private struct NoIndexes: RetrievalStore {
    func prepare(_ spec: IndexSpec) throws { throw UsageError("no indexes here") }
    func search(index: String, query: String, limit: Int) throws -> [RetrievedChunk] { throw UsageError("no indexes here") }
}
