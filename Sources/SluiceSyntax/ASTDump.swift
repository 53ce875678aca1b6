// A stable, readable S-expression dump of a syntax tree, for golden tests and `--dump-ast`.
// Declarations and statements go one per line, indented; expressions print on one line.
// Names print bare, strings quoted (JSON escapes), numbers in their shortest exact form.

public func dumpAST(_ module: Module) -> String {
    var dumper = ASTDumper()
    dumper.line("(module")
    dumper.indented { dumper in
        for decl in module.decls { dumper.declaration(decl) }
    }
    dumper.appendToLastLine(")")
    return dumper.lines.joined(separator: "\n") + "\n"
}

/// One statement, as `dumpAST` prints it (for the REPL and tests).
public func dumpStatement(_ statement: Stmt) -> String {
    var dumper = ASTDumper()
    dumper.statement(statement)
    return dumper.lines.joined(separator: "\n")
}

/// One expression, on one line.
public func dumpExpression(_ expression: Expr) -> String {
    ASTDumper.expression(expression)
}

private struct ASTDumper {
    var lines: [String] = []
    var indent = 0

    mutating func line(_ text: String) {
        lines.append(String(repeating: "  ", count: indent) + text)
    }

    mutating func appendToLastLine(_ text: String) {
        if lines.isEmpty { lines.append(text) } else { lines[lines.count - 1] += text }
    }

    mutating func indented(_ body: (inout ASTDumper) -> Void) {
        indent += 1
        body(&self)
        indent -= 1
    }

    /// `(head` with `children` on indented lines and the closing parenthesis on the last one.
    mutating func node(_ head: String, _ children: (inout ASTDumper) -> Void) {
        line("(" + head)
        indented(children)
        appendToLastLine(")")
    }

    // MARK: Declarations

    mutating func declaration(_ decl: Decl) {
        switch decl {
        case .use(let use):
            var text = "(use "
            switch use.target {
            case .module(let path): text += "(module \(path.map(\.text).joined(separator: ".")))"
            case .file(let path, _): text += "(file \(Self.quote(path)))"
            }
            if let names = use.names { text += " (names" + names.map { " " + $0.text }.joined() + ")" } else { text += " all" }
            line(text + ")")
        case .model(let model):
            node("model \(model.name)") { dumper in dumper.fields(model.fields) }
        case .index(let index):
            node("index \(index.name)") { dumper in dumper.fields(index.fields) }
        case .type(let type):
            switch type.body {
            case .alias(let aliased):
                line("(type \(type.name) = \(Self.type(aliased)))")
            case .record(let fields):
                node("type \(type.name)") { dumper in
                    for field in fields {
                        dumper.line("(\(field.name)\(field.optional ? "?" : "") \(Self.type(field.type)))")
                    }
                }
            }
        case .prompt(let prompt):
            node("prompt \(prompt.name)" + (prompt.version.map { " v\($0)" } ?? "")) { dumper in
                if let params = prompt.params { dumper.params(params) }
                dumper.fields(prompt.fields)
                if let meta = prompt.meta { dumper.line("(meta \(Self.expression(meta)))") }
                for example in prompt.examples {
                    dumper.node("example") { dumper in
                        for message in example { dumper.message(message) }
                    }
                }
                for message in prompt.messages { dumper.message(message) }
                if let returns = prompt.returns { dumper.line("(returns \(Self.type(returns)))") }
            }
        case .guardSet(let guardDecl):
            node("guard \(guardDecl.name)") { dumper in
                if let action = guardDecl.action { dumper.line("(action \(action))") }
                for pattern in guardDecl.patterns {
                    var text = "(pattern \(pattern.name) \(Self.expression(pattern.regex))"
                    if let replacement = pattern.replacement { text += " (replace \(Self.expression(replacement)))" }
                    dumper.line(text + ")")
                }
                dumper.fields(guardDecl.fields)
            }
        case .budget(let budget):
            line(Self.budget(budget))
        case .metric(let metric):
            node("metric \(metric.name)") { dumper in
                dumper.params(metric.params)
                switch metric.body {
                case .expression(let e): dumper.line("(= \(Self.expression(e)))")
                case .judge(let call): dumper.line("(judge \(Self.expression(call)))")
                }
            }
        case .expect(let expect):
            line("(expect \(expect.aggregate)(\(expect.score)) \(expect.comparison.rawValue) \(expect.bound))")
        case .alert(let alert):
            line("(alert \(alert.name) \(alert.conditionText))")
        case .notify(let notify):
            switch notify.target {
            case .named(let name): line("(notify \(name))")
            case .webhook(let url, _): line("(notify \(JSONValue.string(url).serialized()))")
            }
        case .pipeline(let pipeline):
            node("pipeline \(pipeline.name)") { dumper in
                dumper.params(pipeline.params)
                if let returnType = pipeline.returnType { dumper.line("(returns \(Self.type(returnType)))") }
                dumper.block(pipeline.body)
            }
        }
    }

    mutating func fields(_ fields: [Field]) {
        for field in fields { line("(\(field.name) \(Self.expression(field.value)))") }
    }

    mutating func params(_ params: [Param]) {
        if params.isEmpty {
            line("(params)")
            return
        }
        node("params") { dumper in
            for param in params {
                var text = "(\(param.name)"
                if param.trusted { text += " trusted" }
                if let type = param.type { text += " \(Self.type(type))" }
                if let value = param.defaultValue { text += " (default \(Self.expression(value)))" }
                dumper.line(text + ")")
            }
        }
    }

    mutating func message(_ message: PromptMessage) {
        line("(\(message.isHistory ? "history" : message.role.rawValue) \(Self.expression(message.content)))")
    }

    static func budget(_ budget: BudgetDecl) -> String {
        "(budget" + budget.limits.map { " (\($0.name) \(expression($0.value)))" }.joined() + ")"
    }

    // MARK: Statements

    mutating func block(_ block: Block) {
        if block.statements.isEmpty {
            line("(block)")
            return
        }
        node("block") { dumper in
            for statement in block.statements { dumper.statement(statement) }
        }
    }

    mutating func statement(_ statement: Stmt) {
        switch statement.kind {
        case .assign(let name, let value):
            line("(= \(name) \(Self.expression(value)))")
        case .guardStage(let subject, let guards):
            line("(guard \(Self.expression(subject))" + guards.map { " " + Self.stageUse($0) }.joined() + ")")
        case .validate(let name, let type, let retries, let retryModel):
            var text = "(validate \(name)"
            switch type {
            case .type(let type)?: text += " (as \(Self.type(type)))"
            case .schema(let file)?: text += " (against (schema \(JSONValue.string(file.path).serialized())\(file.assertFormats ? " formats" : "")))"
            case nil: break
            }
            if let retries { text += " (retries \(Self.expression(retries)))" }
            if let retryModel { text += " (using \(retryModel))" }
            line(text + ")")
        case .session(let name, let settings):
            line("(session \(name)" + settings.map { " (\($0.name) \(Self.expression($0.value)))" }.joined() + ")")
        case .parallel(let settings, let body):
            node("parallel" + Self.settings(settings)) { dumper in dumper.block(body) }
        case .score(let subject, let metrics, let scoreName, let sample):
            line("(score \(Self.expression(subject))" + (scoreName.map { " (as \($0))" } ?? "")
                 + metrics.map { " " + Self.stageUse($0) }.joined()
                 + (sample.map { " (sample \(JSONValue.formatNumber($0.fraction * 100))%)" } ?? "") + ")")
        case .ifElse(let branches, let elseBody):
            node("if") { dumper in
                for branch in branches {
                    dumper.node("branch \(Self.expression(branch.condition))") { dumper in dumper.block(branch.body) }
                }
                if let elseBody {
                    dumper.node("else") { dumper in dumper.block(elseBody) }
                }
            }
        case .forIn(let variable, let sequence, let body):
            node("for \(variable) \(Self.expression(sequence))") { dumper in dumper.block(body) }
        case .returnValue(let value):
            line(value.map { "(return \(Self.expression($0)))" } ?? "(return)")
        case .budget(let budget):
            line(Self.budget(budget))
        case .expression(let value):
            line("(expr \(Self.expression(value)))")
        }
    }

    static func stageUse(_ use: StageUse) -> String {
        var text = "(\(use.name)" + arguments(use.args)
        if let condition = use.condition { text += " (when \(expression(condition)))" }
        return text + ")"
    }

    // MARK: Types and expressions

    static func type(_ type: TypeRef) -> String {
        switch type {
        case .named(let name): name.text
        case .list(let element, _): "[\(self.type(element))]"
        case .optional(let wrapped, _): self.type(wrapped) + "?"
        case .enumeration(let cases, _): "(enum" + cases.map { " " + quote($0) }.joined() + ")"
        }
    }

    static func arguments(_ arguments: [Argument]) -> String {
        arguments.map { argument in
            " " + (argument.label.map { "\($0.text): " } ?? "") + expression(argument.value)
        }.joined()
    }

    static func expression(_ expression: Expr) -> String {
        switch expression.kind {
        case .string(let parts):
            return "(string" + parts.map { part in
                switch part {
                case .text(let text): " " + quote(text)
                case .hole(let hole): " {" + self.expression(hole) + "}"
                }
            }.joined() + ")"
        case .number(let value): return JSONValue.formatNumber(value)
        case .money(let value): return "$" + JSONValue.formatNumber(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .list(let elements): return "(list" + elements.map { " " + self.expression($0) }.joined() + ")"
        case .record(let entries): return "(record" + entries.map { " (\(key($0.name.text)): \(self.expression($0.value)))" }.joined() + ")"
        case .name(let name): return name
        case .member(let base, let member): return "(. \(self.expression(base)) \(member))"
        case .index(let base, let index): return "(index \(self.expression(base)) \(self.expression(index)))"
        case .call(let callee, let args, let model):
            return "(call \(self.expression(callee))\(arguments(args))" + (model.map { " (using \($0))" } ?? "") + ")"
        case .unary(let op, let operand): return "(\(op.rawValue) \(self.expression(operand)))"
        case .binary(let op, let left, let right): return "(\(op.rawValue) \(self.expression(left)) \(self.expression(right)))"
        case .filter(let value, let filter, let args): return "(| \(self.expression(value)) \(filter)\(arguments(args)))"
        case .retrieve(let query, let index, let top, let order):
            return "(retrieve \(self.expression(query)) \(index)" + (top.map { " (top \(self.expression($0)))" } ?? "")
                + (order.map { " (order \($0))" } ?? "") + ")"
        case .template(let call): return "(template \(self.expression(call)))"
        case .cascade(let call, let steps):
            return "(cascade \(self.expression(call))" + steps.map { step in
                " (\(step.model)" + (step.accept.map { " (accept \(self.expression($0)))" } ?? "") + ")"
            }.joined() + ")"
        case .parallelMap(let body, let variable, let sequence, let settings):
            return "(parallel \(self.expression(body)) (for \(variable) \(self.expression(sequence)))\(self.settings(settings)))"
        case .fallback(let value, let fallback):
            return "(catch \(self.expression(value)) \(self.expression(fallback)))"
        }
    }

    static func settings(_ settings: ParallelSettings) -> String {
        (settings.limit.map { " (limit \(expression($0)))" } ?? "") + (settings.onFailure.map { " (on_failure \($0))" } ?? "")
    }

    /// A record key: bare when it reads as a name, quoted otherwise.
    static func key(_ text: String) -> String {
        let isName = text.utf8.first.map { $0.isIdentifierStart } == true && text.utf8.allSatisfy(\.isIdentifierPart)
        return isName ? text : quote(text)
    }

    static func quote(_ text: String) -> String {
        var out = ""
        JSONValue.writeString(text, to: &out)
        return out
    }
}
