import SluiceSyntax

/// A failure while running a pipeline, pointing at the script text that caused it.
public struct RuntimeError: Error, Sendable {
    public enum Kind: String, Sendable {
        case script          // a value of the wrong kind, a missing input, a bad argument
        case guardBlocked    // a guard with action block matched
        case budget          // a model call would pass the budget
        case overBudget      // a provider reported more usage than was reserved, and the real spend passed a limit
        case provider        // every model failed
        case validation      // a reply never matched its type
        case limit           // depth caps
        case cancelled       // the run's task was cancelled (SIGINT, SIGTERM, SIGHUP in the CLI)
    }
    public var kind: Kind
    public var diagnostic: Diagnostic

    public init(_ kind: Kind, _ message: String, file: SourceFile?, span: Span, notes: [Diagnostic.Note] = [], help: String? = nil) {
        self.kind = kind
        self.diagnostic = Diagnostic(.error, message, file: file, span: span, notes: notes, help: help)
    }

    public var message: String { diagnostic.message }
}
