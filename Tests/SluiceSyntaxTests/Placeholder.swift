import XCTest
final class PlaceholderTests_SluiceSyntaxTests: XCTestCase { func testNothing() {} }
