import SluiceRuntime
@testable import SluiceServices
import XCTest

final class NumberDisplayTests: XCTestCase {
    func testMoneyHasNoFloatNoise() {
        XCTAssertEqual(NumberDisplay.money(7 * 0.15e-6 + 6 * 0.6e-6), "$0.00000465")
        XCTAssertEqual(NumberDisplay.money(0), "$0")
        XCTAssertEqual(NumberDisplay.money(0.1), "$0.1")
        XCTAssertEqual(NumberDisplay.money(0.012345), "$0.0123")
        XCTAssertEqual(NumberDisplay.money(2.5), "$2.5")
        XCTAssertEqual(NumberDisplay.money(0.000183), "$0.000183")
        XCTAssertEqual(NumberDisplay.money(1.23456e-12), "$0.00000000000123")
        XCTAssertEqual(NumberDisplay.money(-0.5), "-$0.5")
        XCTAssertEqual(NumberDisplay.moneyJSON(7 * 0.15e-6 + 6 * 0.6e-6).serialized(), "4.65e-06")
        XCTAssertEqual(NumberDisplay.moneyJSON(0.1 + 0.2).serialized(), "0.3")
    }

    func testScoresHaveAtMostFourDecimals() {
        XCTAssertEqual(NumberDisplay.score(1), "1")
        XCTAssertEqual(NumberDisplay.score(5.0 / 6), "0.8333")
        XCTAssertEqual(NumberDisplay.score(0.92), "0.92")
        XCTAssertEqual(NumberDisplay.score(-0.00001), "0")
        XCTAssertEqual(NumberDisplay.scoreJSON(5.0 / 6).serialized(), "0.833333")
        XCTAssertEqual(NumberDisplay.scoreJSON(0.1 + 0.2).serialized(), "0.3")
    }
}
