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
    switch expr.kind {
    case .name(let n):
        if seen.insert(n).inserted { out.append((n, expr.span)) }
    case .call(let callee, let args, _):
        // A called name is a function, not a parameter.
        if case .name = callee.kind {} else { collectFreeNames(callee, &seen, &out) }
        for arg in args { collectFreeNames(arg.value, &seen, &out) }
    default:
        for child in expr.kind.children { collectFreeNames(child, &seen, &out) }
    }
}
