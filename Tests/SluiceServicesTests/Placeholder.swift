import XCTest
final class PlaceholderTests_SluiceServicesTests: XCTestCase { func testNothing() {} }
