@_exported import SluiceSyntax

// Everything the interpreter needs from the outside world, as protocols. The interpreter never
// opens a socket or a file: the CLI (or a test) hands it these.

// MARK: - Models and providers

/// A model as declared in a script (`model NAME { ... }`), resolved to plain values.
public struct ModelSpec: Sendable, Hashable {
    public var name: String
    /// "openai" (any OpenAI-compatible server), "anthropic", or "scripted".
    public var provider: String
    /// The provider's model id.
    public var id: String
    public var contextWindow: Int
    public var maxOutput: Int
    /// Dollars per token.
    public var inputPrice: Double
    public var outputPrice: Double
    /// Prompt tokens read from the provider's prompt cache.
    public var cachedPrice: Double
    /// Prompt tokens written to the provider's prompt cache (Anthropic bills them above the input
    /// price); nil when the model declares none: they cost the input price.
    public var cacheWritePrice: Double?
    public var tokenizer: String
    public var baseURL: String?
    /// The name of the environment variable holding the API key (never the key itself).
    public var apiKeyEnv: String?
    public var temperature: Double?
    /// Seconds for the whole request.
    public var timeout: Double
    /// How the provider layer keeps calls to this model alive in production.
    public var reliability: Reliability

    public init(name: String, provider: String = "openai", id: String? = nil, contextWindow: Int = 128_000,
                maxOutput: Int = 4_096, inputPrice: Double = 0, outputPrice: Double = 0, cachedPrice: Double = 0,
                cacheWritePrice: Double? = nil, tokenizer: String = "estimate", baseURL: String? = nil, apiKeyEnv: String? = nil,
                temperature: Double? = nil, timeout: Double = 60, reliability: Reliability = Reliability()) {
        self.name = name; self.provider = provider; self.id = id ?? name; self.contextWindow = contextWindow
        self.maxOutput = maxOutput; self.inputPrice = inputPrice; self.outputPrice = outputPrice
        self.cachedPrice = cachedPrice; self.cacheWritePrice = cacheWritePrice; self.tokenizer = tokenizer; self.baseURL = baseURL
        self.apiKeyEnv = apiKeyEnv; self.temperature = temperature; self.timeout = timeout
        self.reliability = reliability
    }
}

/// Retries, backoff, circuit breaking and client-side rate limits for one model, declared in the
/// script (`model m { retries 3  backoff 0.5  rpm 60 ... }`).
public struct Reliability: Sendable, Hashable {
    /// Retries after the first attempt, on 429, 5xx, timeouts and connection failures.
    public var retries: Int
    /// Seconds before the first retry; doubled each time, with full jitter, capped at `maxBackoff`.
    public var backoff: Double
    public var maxBackoff: Double
    /// Seconds to establish a connection (the whole request has `ModelSpec.timeout`).
    public var connectTimeout: Double
    /// Consecutive failures that open the endpoint's circuit; 0 disables the breaker.
    public var breakerFailures: Int
    /// Seconds an open circuit refuses calls before one trial call is let through.
    public var breakerCooldown: Double
    /// Client-side limits per minute; nil means unlimited.
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Seconds for the whole call: every try, backoff, Retry-After and rate-limit wait. Each try's
    /// timeout is cut to what is left of it. The default is the default `timeout`: a person waits
    /// that long for an answer at most, and a stalled first try is not followed by two more.
    public var deadline: Double

    public static let defaultDeadline: Double = 60

    public init(retries: Int = 2, backoff: Double = 0.5, maxBackoff: Double = 20, connectTimeout: Double = 10,
                breakerFailures: Int = 5, breakerCooldown: Double = 30, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil,
                deadline: Double = Reliability.defaultDeadline) {
        self.retries = retries; self.backoff = backoff; self.maxBackoff = maxBackoff; self.connectTimeout = connectTimeout
        self.breakerFailures = breakerFailures; self.breakerCooldown = breakerCooldown
        self.requestsPerMinute = requestsPerMinute; self.tokensPerMinute = tokensPerMinute
        self.deadline = deadline
    }
}

public struct ChatMessage: Sendable, Hashable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }

    public var json: JSONValue { .object([("role", .string(role)), ("content", .string(content))]) }
}

/// One request to a chat model.
public struct ChatRequest: Sendable {
    public var model: ModelSpec
    public var messages: [ChatMessage]
    public var temperature: Double?
    public var maxTokens: Int
    public var stop: [String]
    /// The JSON Schema the reply must follow, with a name for it, when the prompt `returns` a type.
    public var responseSchema: (name: String, schema: JSONValue)?
    /// The prompt this request was rendered from, for traces and scripted replies.
    public var promptName: String?
    /// When set, the provider streams the reply (SSE) and calls this with each piece of text as
    /// it arrives; the complete reply is still returned at the end.
    public var onText: (@Sendable (String) -> Void)?
    /// The messages' tokens as the runtime counted them for the request's model, so the provider
    /// layer (rate limits) need not count them again; nil when not counted.
    public var promptTokens: Int?

    public init(model: ModelSpec, messages: [ChatMessage], temperature: Double? = nil, maxTokens: Int,
                stop: [String] = [], responseSchema: (name: String, schema: JSONValue)? = nil, promptName: String? = nil,
                onText: (@Sendable (String) -> Void)? = nil) {
        self.model = model; self.messages = messages; self.temperature = temperature; self.maxTokens = maxTokens
        self.stop = stop; self.responseSchema = responseSchema; self.promptName = promptName; self.onText = onText
    }
}

/// One failed try of a request that the provider layer retried or gave up on.
public struct ProviderAttempt: Sendable, Hashable {
    public var error: String
    public var status: Int?
    public var latencyMs: Double
    /// How long the provider waited before the next try (backoff or Retry-After), in milliseconds.
    public var waitedMs: Double
    public init(error: String, status: Int? = nil, latencyMs: Double, waitedMs: Double = 0) {
        self.error = error; self.status = status; self.latencyMs = latencyMs; self.waitedMs = waitedMs
    }
}

public struct ChatResponse: Sendable, Hashable {
    public var text: String
    /// The model id the server says answered; nil when its reply did not say.
    public var model: String?
    /// Every prompt token billed, cached and cache-written ones included.
    public var inputTokens: Int
    /// Every generated token billed, reasoning ones included.
    public var outputTokens: Int
    /// Prompt tokens read from the prompt cache (OpenAI `prompt_tokens_details.cached_tokens`,
    /// Anthropic `cache_read_input_tokens`).
    public var cachedTokens: Int
    /// Prompt tokens written to the prompt cache (Anthropic `cache_creation_input_tokens`).
    public var cacheWriteTokens: Int
    /// Of `outputTokens`, the hidden reasoning ones (OpenAI `completion_tokens_details.reasoning_tokens`).
    public var reasoningTokens: Int
    public var finishReason: String?
    /// Failed tries before this reply, oldest first (empty when the first try answered).
    public var failedAttempts: [ProviderAttempt]
    /// True when the server reported no usage and the token counts are the provider's estimate.
    public var usageEstimated: Bool
    /// What the provider did differently from what the request asked, for the trace and standard
    /// error: structured output asked for in the instructions instead of natively, a schema sent
    /// non-strict. Empty when the request went as asked.
    public var warnings: [String]
    /// Milliseconds the try that answered took (waits for retries and rate limits before it
    /// excluded); nil when the provider does not measure it.
    public var latencyMs: Double?

    public init(text: String, model: String?, inputTokens: Int, outputTokens: Int, cachedTokens: Int = 0, cacheWriteTokens: Int = 0,
                reasoningTokens: Int = 0, finishReason: String? = nil,
                failedAttempts: [ProviderAttempt] = [], usageEstimated: Bool = false, warnings: [String] = [], latencyMs: Double? = nil) {
        self.text = text; self.model = model; self.inputTokens = inputTokens; self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens; self.cacheWriteTokens = cacheWriteTokens; self.reasoningTokens = reasoningTokens
        self.finishReason = finishReason; self.failedAttempts = failedAttempts
        self.usageEstimated = usageEstimated; self.warnings = warnings; self.latencyMs = latencyMs
    }
}

public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case transport          // connection refused, DNS, TLS, timeout
        case http               // a non-2xx status
        case malformedReply     // the body is not what the wire format promises
        case configuration      // no key, bad base URL, unknown provider
        case exhausted          // a scripted provider with no replies left
        case circuitOpen        // the endpoint failed too often lately; calls are refused for a while
        case rateLimited        // a client-side limit would be passed
        case deadlineExceeded   // the call's deadline (`deadline`, every try and wait) would pass
    }
    public var kind: Kind
    public var message: String
    public var status: Int?
    /// Every try that failed, the last one included, when the provider layer retried.
    public var attempts: [ProviderAttempt]
    /// Seconds the server asked the client to wait before trying again (`Retry-After`), when it said.
    public var retryAfter: Double?
    public init(_ kind: Kind, _ message: String, status: Int? = nil, attempts: [ProviderAttempt] = [], retryAfter: Double? = nil) {
        self.kind = kind; self.message = message; self.status = status; self.attempts = attempts; self.retryAfter = retryAfter
    }
    public var description: String { message }
}

/// Talks to a model. The CLI routes by `ModelSpec.provider`; tests inject scripted ones.
public protocol ModelProvider: Sendable {
    func complete(_ request: ChatRequest) async throws -> ChatResponse
}

/// Vectors for texts, in input order, and the tokens the server says it billed for them.
public struct Embeddings: Sendable, Hashable {
    public var vectors: [[Float]]
    /// The input tokens the server reported (`usage.prompt_tokens`); nil when it reported none,
    /// and the caller charges its own count of the texts.
    public var inputTokens: Int?
    public init(vectors: [[Float]], inputTokens: Int? = nil) { self.vectors = vectors; self.inputTokens = inputTokens }
}

/// Turns text into vectors (`/v1/embeddings`), for retrieval and similarity metrics.
public protocol EmbeddingProvider: Sendable {
    func embed(_ texts: [String], model: ModelSpec) async throws -> [[Float]]
    /// The vectors with the usage the server reported. Providers that know it implement this;
    /// the default reports none.
    func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings
}

extension EmbeddingProvider {
    public func embedWithUsage(_ texts: [String], model: ModelSpec) async throws -> Embeddings {
        Embeddings(vectors: try await embed(texts, model: model))
    }
}

// MARK: - Retrieval

public struct RetrievedChunk: Sendable, Hashable {
    public var text: String
    public var source: String
    /// Higher is better (the negated bm25 rank from SQLite FTS5).
    public var score: Double
    public init(text: String, source: String, score: Double) { self.text = text; self.source = source; self.score = score }
}

/// How to build an index when a script declares one with a `source`.
public struct IndexSpec: Sendable, Hashable {
    public var name: String
    /// Absolute path of a file or folder to index when the index is empty.
    public var source: String?
    public var chunkTokens: Int
    public var overlapTokens: Int
    public init(name: String, source: String?, chunkTokens: Int = 256, overlapTokens: Int = 32) {
        self.name = name; self.source = source; self.chunkTokens = chunkTokens; self.overlapTokens = overlapTokens
    }
}

public protocol RetrievalStore: Sendable {
    /// Makes sure the index exists, building it from `spec.source` when it is empty.
    func prepare(_ spec: IndexSpec) throws
    /// BM25 search, best first.
    func search(index: String, query: String, limit: Int) throws -> [RetrievedChunk]
}

// MARK: - Tracing

public struct TraceRun: Sendable {
    public var id: String
    public var pipeline: String
    public var file: String
    public var startedAt: Double
    public var inputs: JSONValue
    /// Who the run is for (`--user ID`), for per-user budgets, filters and statistics.
    public var user: String?
    /// The conversation the run continues (`--session ID`).
    public var session: String?
    public init(id: String, pipeline: String, file: String, startedAt: Double, inputs: JSONValue,
                user: String? = nil, session: String? = nil) {
        self.id = id; self.pipeline = pipeline; self.file = file; self.startedAt = startedAt; self.inputs = inputs
        self.user = user; self.session = session
    }
}

public struct TraceRunEnd: Sendable {
    /// `cancelled`: the run's task was cancelled (the CLI cancels it on SIGINT, SIGTERM or SIGHUP).
    /// `over_budget`: a provider reported more usage than was reserved and the real spend passed a limit.
    public enum Status: String, Sendable { case ok, error, blocked, cancelled, overBudget = "over_budget" }
    public var id: String
    public var status: Status
    public var endedAt: Double
    public var output: JSONValue?
    public var error: String?
    public var cost: Double
    public var tokens: Int
    public init(id: String, status: Status, endedAt: Double, output: JSONValue?, error: String?, cost: Double, tokens: Int) {
        self.id = id; self.status = status; self.endedAt = endedAt; self.output = output; self.error = error
        self.cost = cost; self.tokens = tokens
    }
}

/// A stage of a run: `retrieve`, `prompt`, `guard`, `cascade`, `validate`, `score`, `pipeline`.
public struct TraceSpan: Sendable {
    public var id: String
    public var runId: String
    public var parentId: String?
    public var kind: String
    public var name: String
    public var startedAt: Double
    public init(id: String, runId: String, parentId: String?, kind: String, name: String, startedAt: Double) {
        self.id = id; self.runId = runId; self.parentId = parentId; self.kind = kind; self.name = name; self.startedAt = startedAt
    }
}

public struct TraceSpanEnd: Sendable {
    public var id: String
    public var endedAt: Double
    public var status: String        // "ok" or "error"
    /// Stage-specific facts: which model answered and why, how many documents, and so on.
    public var detail: JSONValue
    public init(id: String, endedAt: Double, status: String, detail: JSONValue) {
        self.id = id; self.endedAt = endedAt; self.status = status; self.detail = detail
    }
}

public struct TraceModelCall: Sendable, Hashable {
    /// Where a call stands. A call is recorded `inFlight` when it is sent and completed with its
    /// outcome when it ends, so money in flight is never invisible. `interrupted` is never written
    /// by the runtime: readers report it for a call still in flight in a run whose process is gone.
    public enum Status: String, Sendable, Hashable { case inFlight = "in_flight", ok, error, cancelled, interrupted }
    /// Pairs `TraceSink.modelCallStarted` with the `modelCalled` that completes it; nil for a row
    /// recorded only after the fact (a failed try the provider layer retried, an embedding call).
    public var id: String?
    public var status: Status
    public var runId: String
    public var spanId: String
    public var model: String
    public var provider: String
    public var messages: [ChatMessage]
    public var reply: String?
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedTokens: Int
    /// Prompt tokens written to the provider's prompt cache, and the reasoning tokens among the
    /// output, as the answer's `ChatResponse` says; nil for a try that got no answer.
    public var cacheWriteTokens: Int?
    public var reasoningTokens: Int?
    /// What was sent: the provider's model id (`ModelSpec.id`, not the script's name in `model`),
    /// `max_tokens` and `temperature` (nil when the request left it to the provider).
    public var requestModel: String?
    public var maxTokens: Int?
    public var temperature: Double?
    /// What the provider said of its answer: the model that answered and why it stopped
    /// (`ChatResponse.model`, `finishReason`); nil for a try that got no answer.
    public var responseModel: String?
    public var finishReason: String?
    public var cost: Double
    public var latencyMs: Double
    public var error: String?
    public var attempt: Int
    /// The version (`prompt p(...) v2`) of the prompt the call was rendered from, when it has one.
    public var promptVersion: Int?
    /// The prompt's `meta { ... }`, as JSON, when it declares one.
    public var promptMeta: JSONValue?
    /// What the provider did differently from what was asked (`ChatResponse.warnings`).
    public var warnings: [String]
    public init(runId: String, spanId: String, model: String, provider: String, messages: [ChatMessage], reply: String?,
                inputTokens: Int, outputTokens: Int, cachedTokens: Int, cost: Double, latencyMs: Double, error: String?, attempt: Int,
                promptVersion: Int? = nil, promptMeta: JSONValue? = nil, warnings: [String] = [], id: String? = nil,
                status: Status? = nil) {
        self.id = id; self.status = status ?? (error == nil ? .ok : .error)
        self.runId = runId; self.spanId = spanId; self.model = model; self.provider = provider; self.messages = messages
        self.reply = reply; self.inputTokens = inputTokens; self.outputTokens = outputTokens; self.cachedTokens = cachedTokens
        self.cost = cost; self.latencyMs = latencyMs; self.error = error; self.attempt = attempt
        self.promptVersion = promptVersion; self.promptMeta = promptMeta; self.warnings = warnings
    }
}

public struct TraceGuardVerdict: Sendable, Hashable {
    public var runId: String
    public var spanId: String
    public var guardName: String
    public var pattern: String?
    /// "pass", "blocked", "redacted", "flagged".
    public var verdict: String
    public var matches: Int
    public init(runId: String, spanId: String, guardName: String, pattern: String?, verdict: String, matches: Int) {
        self.runId = runId; self.spanId = spanId; self.guardName = guardName; self.pattern = pattern
        self.verdict = verdict; self.matches = matches
    }
}

public struct TraceScore: Sendable, Hashable {
    public var runId: String
    public var spanId: String?
    public var name: String
    public var value: Double
    public init(runId: String, spanId: String?, name: String, value: Double) {
        self.runId = runId; self.spanId = spanId; self.name = name; self.value = value
    }
}

/// Receives a run's trace as it happens, so nothing recorded is lost if the run fails midway.
public protocol TraceSink: Sendable {
    func runStarted(_ run: TraceRun) throws
    func spanStarted(_ span: TraceSpan) throws
    func spanEnded(_ end: TraceSpanEnd) throws
    /// A model call was sent (`call.status` is `inFlight`, `call.id` set, no reply or usage yet).
    func modelCallStarted(_ call: TraceModelCall) throws
    /// A model call ended. With an `id` it completes the row `modelCallStarted` wrote; without
    /// one it is a row of its own (a failed try recorded after the provider layer retried it).
    func modelCalled(_ call: TraceModelCall) throws
    func guardChecked(_ verdict: TraceGuardVerdict) throws
    func scored(_ score: TraceScore) throws
    func runEnded(_ end: TraceRunEnd) throws
    /// Replaces each secret with its replacement in everything stored for the run so far (text
    /// that became secret after it was written: a reply a `leak` guard blocked, an input a later
    /// guard redacted). Stored JSON must be scrubbed in its decoded text, not only byte for byte.
    func scrub(runId: String, replacements: [(secret: String, replacement: String)]) throws
}

// MARK: - Clock, randomness, tokens

public protocol Clock: Sendable {
    /// Seconds since the Unix epoch.
    func now() -> Double
    /// Waits; tests pass a clock that only advances its own time.
    func sleep(seconds: Double) async throws
}

public protocol RandomSource: Sendable {
    func next() -> UInt64
}

public protocol TokenCounter: Sendable {
    /// Tokens in `text` under `encoding` ("o200k_base", "cl100k_base", "estimate", ...).
    func count(_ text: String, encoding: String) -> Int
    /// True when `count` gives the provider's exact figure for this encoding.
    func isExact(encoding: String) -> Bool
    /// Tokens a chat request's messages are billed as, framing included, for a provider's format.
    func countChat(_ messages: [ChatMessage], encoding: String, provider: String) -> Int
}

extension TokenCounter {
    public func isExact(encoding: String) -> Bool { false }
    /// OpenAI's documented framing: 3 tokens per message and 3 to prime the reply.
    public func countChat(_ messages: [ChatMessage], encoding: String, provider: String) -> Int {
        messages.reduce(3) { $0 + 3 + count($1.role, encoding: encoding) + count($1.content, encoding: encoding) }
    }
}

/// A documented estimate for models without a public tokenizer: one token per four UTF-8
/// bytes, rounded up (OpenAI's own rule of thumb for English text).
public struct EstimatingTokenCounter: TokenCounter {
    public init() {}
    public func count(_ text: String, encoding: String) -> Int { (text.utf8.count + 3) / 4 }
}

// MARK: - What dry runs learn from the store

public struct IndexStatistics: Sendable, Hashable {
    public var chunks: Int
    /// Mean and largest chunk, in estimated tokens.
    public var averageTokens: Double
    public var maxTokens: Int
    public init(chunks: Int, averageTokens: Double, maxTokens: Int) {
        self.chunks = chunks; self.averageTokens = averageTokens; self.maxTokens = maxTokens
    }
}

/// Facts about past runs and indexes that make a dry run's estimate closer to reality.
public protocol EstimationHistory: Sendable {
    /// The mean output tokens of successful past calls of this prompt on this model, if any.
    func averageOutputTokens(prompt: String, model: String) throws -> Double?
    /// Size statistics of an index, nil when it does not exist.
    func statistics(index: String) throws -> IndexStatistics?
}

// MARK: - Conversations

public struct SessionTurn: Sendable, Hashable {
    public var seq: Int
    public var role: String
    public var content: String
    public init(seq: Int, role: String, content: String) { self.seq = seq; self.role = role; self.content = content }
}

/// A conversation as stored: the latest summary (covering every turn up to `summaryThrough`)
/// and the turns after it, oldest first.
public struct SessionState: Sendable, Hashable {
    public var id: String
    public var summary: String?
    public var summaryThrough: Int
    public var turns: [SessionTurn]
    public init(id: String, summary: String?, summaryThrough: Int, turns: [SessionTurn]) {
        self.id = id; self.summary = summary; self.summaryThrough = summaryThrough; self.turns = turns
    }
}

/// Multi-turn conversations (`--session ID`).
public protocol SessionStore: Sendable {
    func createSession(_ id: String, at time: Double) throws
    /// nil when there is no such session.
    func loadSession(_ id: String) throws -> SessionState?
    /// Appends turns; returns them with their sequence numbers.
    func appendTurns(_ id: String, _ turns: [(role: String, content: String)], at time: Double) throws -> [SessionTurn]
    /// Replaces the summary with one covering every turn up to `through`.
    func saveSummary(_ id: String, summary: String, through: Int, at time: Double) throws
}
