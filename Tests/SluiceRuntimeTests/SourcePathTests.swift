import Foundation
import XCTest
@testable import SluiceRuntime

/// Retrieved chunks name their document relative to the index's folder, with a path function of
/// its own (Foundation's URL was a measurable part of every retrieval): it must agree with
/// Foundation on every path.
final class SourcePathTests: XCTestCase {
    func testStandardizedPathAgreesWithFoundation() {
        let paths = ["/", "/a", "/a/", "/a//b", "/a/./b", "/a/../b", "/../a", "/a/b/..", "/a/b/../..", "/a/b/../../..",
                     "//a///b//", "/a/.b/..c/...", "/docs/guide é/ünï.md", "/a/./../b/./c/", "/tmp/x/../../y"]
        for path in paths {
            XCTAssertEqual(standardizedPath(path), URL(fileURLWithPath: path).standardizedFileURL.path, path)
        }
    }

    func testDisplaySourceIsRelativeToTheIndexFolder() {
        XCTAssertEqual(displaySource("/srv/kb/docs/a.md", indexSource: "/srv/kb/docs"), "a.md")
        XCTAssertEqual(displaySource("/srv/kb/docs/sub/../b.md", indexSource: "/srv/kb/./docs/"), "b.md")
        XCTAssertEqual(displaySource("/elsewhere/c.md", indexSource: "/srv/kb/docs"), "/elsewhere/c.md")
        XCTAssertEqual(displaySource("/srv/kb/docs-old/d.md", indexSource: "/srv/kb/docs"), "/srv/kb/docs-old/d.md")
        XCTAssertEqual(displaySource("/srv/kb/docs/e.md", indexSource: nil), "/srv/kb/docs/e.md")
    }
}
