import SluiceSyntax

/// The one checked conversion from a number to an index, a count or a size: nil for nan,
/// infinities, fractions and values outside `Int`'s range (where `Int(_:)` would trap).
public func exactInt(_ value: Double) -> Int? {
    guard value.isFinite, value == value.rounded(), abs(value) < 9_007_199_254_740_992 else { return nil }
    return Int(value)
}

/// A declaration's value as a count: a whole number of at least `minimum`, else nil.
func count(_ value: Value, atLeast minimum: Int) -> Int? {
    guard case .number(let n) = value, let whole = exactInt(n), whole >= minimum else { return nil }
    return whole
}

/// A number as messages show it: like JSON, but NaN and the infinities by name (JSON has no
/// spelling for them, and `formatNumber` prints them as `null`).
func displayNumber(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-infinity" : "infinity" }
    return JSONValue.formatNumber(value)
}
