/// RFC 3986 reference resolution (section 5.2), for `$id` and `$ref`. Works on the text of the
/// URI without normalising it (no case folding, no percent-decoding), which is what JSON
/// Schema's identifiers need: they are compared as resolved strings.
func resolveURIReference(_ reference: String, against base: String) -> String {
    let r = URIParts(reference)
    if r.scheme != nil { return URIParts(scheme: r.scheme, authority: r.authority, path: removeDotSegments(r.path), query: r.query, fragment: r.fragment).text }
    let b = URIParts(base)
    var result = URIParts(scheme: b.scheme, authority: b.authority, path: b.path, query: b.query, fragment: r.fragment)
    if r.authority != nil {
        result.authority = r.authority
        result.path = removeDotSegments(r.path)
        result.query = r.query
    } else if r.path.isEmpty {
        if r.query != nil { result.query = r.query }
    } else {
        if r.path.hasPrefix("/") {
            result.path = removeDotSegments(r.path)
        } else if b.authority != nil, b.path.isEmpty {
            result.path = removeDotSegments("/" + r.path)
        } else if let slash = b.path.lastIndex(of: "/") {
            result.path = removeDotSegments(String(b.path[...slash]) + r.path)
        } else {
            result.path = removeDotSegments(r.path)
        }
        result.query = r.query
    }
    return result.text
}

/// The URI without its fragment, and the fragment (without `#`), nil when there is no `#`.
func splitFragment(_ uri: String) -> (uri: String, fragment: String?) {
    guard let hash = uri.firstIndex(of: "#") else { return (uri, nil) }
    return (String(uri[..<hash]), String(uri[uri.index(after: hash)...]))
}

private struct URIParts {
    var scheme: String?
    var authority: String?
    var path: String
    var query: String?
    var fragment: String?

    init(scheme: String?, authority: String?, path: String, query: String?, fragment: String?) {
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
        self.fragment = fragment
    }

    /// Splits by the regular expression of RFC 3986 appendix B.
    init(_ text: String) {
        var rest = Substring(text)
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        if let colon = rest.firstIndex(of: ":"), !rest[..<colon].contains("/"), colon != rest.startIndex {
            scheme = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            authority = String(rest[..<end])
            rest = rest[end...]
        }
        path = String(rest)
    }

    var text: String {
        var out = ""
        if let scheme { out += scheme + ":" }
        if let authority { out += "//" + authority }
        out += path
        if let query { out += "?" + query }
        if let fragment { out += "#" + fragment }
        return out
    }
}

/// RFC 3986 section 5.2.4.
private func removeDotSegments(_ path: String) -> String {
    var input = Substring(path)
    var output: [Substring] = []
    while !input.isEmpty {
        if input.hasPrefix("../") { input = input.dropFirst(3) }
        else if input.hasPrefix("./") { input = input.dropFirst(2) }
        else if input.hasPrefix("/./") { input = input.dropFirst(2) }
        else if input == "/." { input = "/" }
        else if input.hasPrefix("/../") { input = input.dropFirst(3); if !output.isEmpty { output.removeLast() } }
        else if input == "/.." { input = "/"; if !output.isEmpty { output.removeLast() } }
        else if input == "." || input == ".." { input = "" }
        else {
            let start = input.hasPrefix("/") ? input.index(after: input.startIndex) : input.startIndex
            let end = input[start...].firstIndex(of: "/") ?? input.endIndex
            output.append(input[..<end])
            input = input[end...]
        }
    }
    return output.joined()
}
