import XCTest
final class PlaceholderTests_SluiceSemanticsTests: XCTestCase { func testNothing() {} }
