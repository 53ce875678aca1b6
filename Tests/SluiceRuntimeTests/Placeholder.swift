import XCTest
final class PlaceholderTests_SluiceRuntimeTests: XCTestCase { func testNothing() {} }
