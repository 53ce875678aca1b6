/// The one checked conversion from a number to an index, a count or a size: nil for nan,
/// infinities, fractions and values outside `Int`'s range (where `Int(_:)` would trap).
func exactInt(_ value: Double) -> Int? {
    guard value.isFinite, value == value.rounded(), abs(value) < 9_007_199_254_740_992 else { return nil }
    return Int(value)
}
