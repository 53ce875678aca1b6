import Foundation
import SluiceSyntax

/// The money and token limits of one run, with cost reserved before each model call and
/// settled after it, so a declared budget is never exceeded.
public struct BudgetLimits: Sendable, Hashable {
    public var requestDollars: Double?
    public var tokens: Int?
    public init(requestDollars: Double? = nil, tokens: Int? = nil) { self.requestDollars = requestDollars; self.tokens = tokens }

    /// These limits with each one `other` sets put in its place.
    func overridden(by other: BudgetLimits) -> BudgetLimits {
        BudgetLimits(requestDollars: other.requestDollars ?? requestDollars, tokens: other.tokens ?? tokens)
    }
}

/// One level of limits. The run's root scope holds the file-wide budget (or the top-level
/// pipeline's own); a sub-pipeline's `budget` opens a nested scope, so every call is checked
/// against its own pipeline's limits and every caller's: a callee can tighten, never loosen.
final class BudgetScope: @unchecked Sendable {
    let parent: BudgetScope?
    /// The pipeline whose `budget` opened the scope; nil for the run's own.
    let owner: String?
    var limits: BudgetLimits
    var spentDollars = 0.0, spentTokens = 0
    var reservedDollars = 0.0, reservedTokens = 0

    init(parent: BudgetScope?, owner: String?, limits: BudgetLimits) {
        self.parent = parent; self.owner = owner; self.limits = limits
    }

    /// "the request budget", "the token budget of pipeline `lookup`".
    func name(_ limit: String) -> String {
        "the \(limit) budget" + (owner.map { " of pipeline `\($0)`" } ?? "")
    }

    var chain: [BudgetScope] {
        var scopes: [BudgetScope] = []
        var next: BudgetScope? = self
        while let scope = next { scopes.append(scope); next = scope.parent }
        return scopes
    }
}

/// A reservation taken before a call; `settle` releases it.
struct BudgetReservation: Sendable {
    fileprivate let scope: BudgetScope
    let dollars: Double
    let tokens: Int
}

/// The run's spending across all its scopes. Concurrent branches of a run share it: every
/// reservation is checked and taken under one lock, so no interleaving can pass a limit.
final class BudgetLedger: @unchecked Sendable {
    struct Refusal: Error, Sendable { var message: String }

    private let lock = NSLock()
    let root = BudgetScope(parent: nil, owner: nil, limits: BudgetLimits())
    /// Dry runs record what would be refused instead of refusing, and charge the worst case.
    let enforcing: Bool
    private(set) var refusals: [String] = []
    /// Money comparisons allow for floating-point rounding below a millionth of a cent.
    private static let epsilon = 1e-9

    init(enforcing: Bool) { self.enforcing = enforcing }

    var spentDollars: Double { lock.withLock { root.spentDollars } }
    var spentTokens: Int { lock.withLock { root.spentTokens } }
    var limits: BudgetLimits { lock.withLock { root.limits } }

    func setLimits(_ limits: BudgetLimits, of scope: BudgetScope) {
        lock.withLock { scope.limits = limits }
    }

    /// Reserves a call's worst case in `scope` and every scope above it.
    func reserve(dollars: Double, tokens: Int, in scope: BudgetScope) throws(Refusal) -> BudgetReservation {
        let refusal: String? = lock.withLock {
            for level in scope.chain {
                if let limit = level.limits.requestDollars, level.spentDollars + level.reservedDollars + dollars > limit + Self.epsilon {
                    return "the call's worst case of \(formatMoney(dollars)) would pass \(level.name("request")) of \(formatMoney(limit)) "
                        + "(\(formatMoney(level.spentDollars + level.reservedDollars)) already spent or reserved)"
                }
                if let limit = level.limits.tokens, level.spentTokens + level.reservedTokens + tokens > limit {
                    return "the call's worst case of \(tokens) tokens would pass \(level.name("token")) of \(limit) "
                        + "(\(level.spentTokens + level.reservedTokens) already spent or reserved)"
                }
            }
            return nil
        }
        if let refusal {
            guard !enforcing else { throw Refusal(message: refusal) }
            lock.withLock { refusals.append(refusal) }
        }
        lock.withLock {
            for level in scope.chain {
                level.reservedDollars += dollars
                level.reservedTokens += tokens
            }
        }
        return BudgetReservation(scope: scope, dollars: dollars, tokens: tokens)
    }

    /// Releases a reservation and charges what the call really used (zero when it failed).
    func settle(_ reservation: BudgetReservation, actualDollars: Double, actualTokens: Int) {
        lock.withLock {
            for level in reservation.scope.chain {
                level.reservedDollars = max(0, level.reservedDollars - reservation.dollars)
                level.reservedTokens = max(0, level.reservedTokens - reservation.tokens)
                level.spentDollars += actualDollars
                level.spentTokens += actualTokens
            }
        }
    }
}

extension Interpreter {
    /// The limits a `budget` declaration or statement sets.
    func limits(of budget: BudgetDecl, file: SourceFile) throws -> BudgetLimits {
        var limits = BudgetLimits()
        for limit in budget.limits {
            let value = try constant(limit.value, file: file)
            switch (limit.name.text, value) {
            case ("request", .money(let m)): limits.requestDollars = m
            case ("tokens", .number(let n)):
                guard let tokens = exactInt(n), tokens >= 0 else {
                    throw RuntimeError(.script, "budget `tokens` needs a whole number of tokens", file: file, span: limit.span)
                }
                limits.tokens = tokens
            default:
                throw RuntimeError(.script, "budget `\(limit.name.text)` cannot be \(value.typeName)", file: file, span: limit.span)
            }
        }
        return limits
    }
}
