import Foundation
import SluiceSemantics
import XCTest

/// The tables of built-ins are what the language reference lists: a function, metric, model
/// field or alert metric added to one is documented, or this fails.
final class BuiltinTablesTests: XCTestCase {
    func testTheLanguageReferenceDocumentsEveryBuiltin() throws {
        let reference = try String(contentsOf: Paths.repository.appendingPathComponent("grammar/LANGUAGE.md"), encoding: .utf8)
        for function in BuiltinFunction.allCases {
            XCTAssertTrue(reference.contains("`\(function.rawValue)"), "LANGUAGE.md does not document the function `\(function.rawValue)`")
        }
        for metric in BuiltinMetric.allCases {
            XCTAssertTrue(reference.contains("`\(metric.rawValue)("), "LANGUAGE.md does not document the metric `\(metric.rawValue)`")
        }
        for field in ModelField.allCases {
            XCTAssertTrue(reference.contains("`\(field.rawValue)`"), "LANGUAGE.md does not document the model field `\(field.rawValue)`")
        }
        for metric in AlertMetric.allCases {
            XCTAssertTrue(reference.contains("`\(metric.rawValue)`"), "LANGUAGE.md does not document the alert metric `\(metric.rawValue)`")
        }
        for budget in BudgetWindow.allCases {
            XCTAssertTrue(reference.contains("`budget \(budget.rawValue)`"), "LANGUAGE.md does not document the budget alert `\(budget.rawValue)`")
        }
    }

    func testTheNameTablesAreTheEnums() {
        XCTAssertEqual(Set(Builtins.functions.keys), Set(BuiltinFunction.allCases.map(\.rawValue)))
        XCTAssertEqual(Set(Builtins.metrics.keys), Set(BuiltinMetric.allCases.map(\.rawValue)))
        XCTAssertEqual(Builtins.modelFields, ModelField.allCases.map(\.rawValue))
    }
}
