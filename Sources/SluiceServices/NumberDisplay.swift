import Foundation
import SluiceRuntime

/// How money and scores are printed by every command, so a cost never shows float noise
/// (`4.6499999999999995e-06`) and the same amount reads the same in a run summary, a trace and a
/// dry run. Text is for people; the `JSON` forms round to what is meaningful and stay numbers.
public enum NumberDisplay {
    /// Dollars: four decimals from a cent up (`$0.1234`), below that three significant digits
    /// (`$0.00000465`); trailing zeros dropped; never an exponent; exactly 0 is `$0`.
    public static func money(_ dollars: Double) -> String {
        guard dollars.isFinite else { return "$\(dollars)" }
        if dollars == 0 { return "$0" }
        let magnitude = abs(dollars)
        let places = magnitude >= 0.01 ? 4 : min(15, 2 - Int(floor(log10(magnitude))))
        return (dollars < 0 ? "-$" : "$") + trimmed(String(format: "%.\(places)f", magnitude))
    }

    /// A score (a number in 0..1 as a rule): at most four decimals, trailing zeros dropped (`0.8333`, `1`).
    public static func score(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let text = trimmed(String(format: "%.4f", value))
        return text == "-0" ? "0" : text
    }

    /// Dollars for JSON: rounded to 10 significant digits (`4.65e-06`, not `4.6499999999999995e-06`).
    public static func moneyJSON(_ dollars: Double) -> JSONValue { .number(significant(dollars, digits: 10)) }

    /// A score for JSON: rounded to 6 significant digits.
    public static func scoreJSON(_ value: Double) -> JSONValue { .number(significant(value, digits: 6)) }

    /// Milliseconds for JSON: rounded to a microsecond.
    public static func millisecondsJSON(_ value: Double) -> JSONValue { .number((value * 1000).rounded() / 1000) }

    static func significant(_ value: Double, digits: Int) -> Double {
        guard value.isFinite, value != 0 else { return value }
        return Double(String(format: "%.\(digits)g", value)) ?? value
    }

    private static func trimmed(_ decimal: String) -> String {
        guard decimal.contains(".") else { return decimal }
        var text = decimal
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
