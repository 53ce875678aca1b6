/// The money and token limits of one run, with cost reserved before each model call and
/// settled after it, so a declared budget is never exceeded.
public struct BudgetLimits: Sendable, Hashable {
    public var requestDollars: Double?
    public var tokens: Int?
    public init(requestDollars: Double? = nil, tokens: Int? = nil) { self.requestDollars = requestDollars; self.tokens = tokens }
}

public struct BudgetLedger: Sendable {
    public var limits: BudgetLimits
    public private(set) var spentDollars: Double = 0
    public private(set) var spentTokens: Int = 0
    private var reservedDollars: Double = 0
    private var reservedTokens: Int = 0
    /// Money comparisons allow for floating-point rounding below a millionth of a cent.
    private static let epsilon = 1e-9

    public init(limits: BudgetLimits) { self.limits = limits }

    public struct Refusal: Sendable {
        public var message: String
    }

    /// Reserves a call's worst case; returns why not when it would pass a limit.
    public mutating func reserve(dollars: Double, tokens: Int) -> Refusal? {
        if let limit = limits.requestDollars, spentDollars + reservedDollars + dollars > limit + Self.epsilon {
            return Refusal(message: "the call's worst case of \(formatMoney(dollars)) would pass the request budget of "
                + "\(formatMoney(limit)) (\(formatMoney(spentDollars + reservedDollars)) already spent or reserved)")
        }
        if let limit = limits.tokens, spentTokens + reservedTokens + tokens > limit {
            return Refusal(message: "the call's worst case of \(tokens) tokens would pass the token budget of \(limit) "
                + "(\(spentTokens + reservedTokens) already spent or reserved)")
        }
        reservedDollars += dollars
        reservedTokens += tokens
        return nil
    }

    /// Releases a reservation and charges what the call really used (zero when it failed).
    public mutating func settle(reservedDollars dollars: Double, reservedTokens tokens: Int, actualDollars: Double, actualTokens: Int) {
        reservedDollars = max(0, reservedDollars - dollars)
        reservedTokens = max(0, reservedTokens - tokens)
        spentDollars += actualDollars
        spentTokens += actualTokens
    }
}
