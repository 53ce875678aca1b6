import XCTest
final class PlaceholderTests_SluiceCLITests: XCTestCase { func testNothing() {} }
