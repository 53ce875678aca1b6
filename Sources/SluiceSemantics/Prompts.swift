import SluiceSyntax

/// The parameters of a prompt, in order: the declared ones, or, for a prompt without a
/// parameter list, the free names of its holes in order of first appearance in the source
/// (messages and examples alike). A name called as a function (`len(x)`) or used as a filter
/// (`x | upper`) is not a parameter; any other name is.
public func parameterNames(of prompt: PromptDecl) -> [String] {
    if let params = prompt.params { return params.map(\.name.text) }
    return inferredParameters(of: prompt).map(\.name)
}

func inferredParameters(of prompt: PromptDecl) -> [(name: String, span: Span)] {
    let messages = (prompt.messages + prompt.examples.joined()).enumerated().sorted {
        ($0.element.span.start, $0.offset) < ($1.element.span.start, $1.offset)
    }.map(\.element)
    var seen: Set<String> = []
    var out: [(name: String, span: Span)] = []
    for message in messages { collectFreeNames(message.content, &seen, &out) }
    return out
}

private func collectFreeNames(_ expr: Expr, _ seen: inout Set<String>, _ out: inout [(name: String, span: Span)]) {
    func walk(_ e: Expr) { collectFreeNames(e, &seen, &out) }
    switch expr.kind {
    case .name(let n):
        if seen.insert(n).inserted { out.append((n, expr.span)) }
    case .string(let parts):
        for case .hole(let h) in parts { walk(h) }
    case .number, .money, .bool, .null: break
    case .list(let items): items.forEach(walk)
    case .record(let fields): fields.forEach { walk($0.value) }
    case .member(let base, _): walk(base)
    case .index(let base, let index): walk(base); walk(index)
    case .call(let callee, let args, _):
        if case .name = callee.kind {} else { walk(callee) }
        args.forEach { walk($0.value) }
    case .unary(_, let operand): walk(operand)
    case .binary(_, let l, let r): walk(l); walk(r)
    case .filter(let subject, _, let args): walk(subject); args.forEach { walk($0.value) }
    case .retrieve(let query, _, let top, _): walk(query); top.map(walk)
    case .template(let call): walk(call)
    case .cascade(let call, let steps): walk(call); steps.forEach { $0.accept.map(walk) }
    case .parallelMap(let body, _, let sequence, let settings): walk(body); walk(sequence); settings.limit.map(walk)
    case .fallback(let value, let fallback): walk(value); walk(fallback)
    }
}
