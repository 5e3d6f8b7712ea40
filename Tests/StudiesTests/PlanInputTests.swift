import Foundation
import Studies
import XCTest

/// Plans are read by the same bounded YAML reader as configs.
final class PlanInputTests: XCTestCase {
  func testPlanDuplicateKeysAndDeepNestingAreRefused() {
    XCTAssertThrowsError(try StudyPlan(yaml: "name: a\nname: b\n")) {
      XCTAssertTrue("\($0)".contains("the plan line 2: the key name is written twice (lines 1 and 2)"), "\($0)")
    }
    XCTAssertThrowsError(try StudyPlan(yaml: "ablations: " + String(repeating: "[", count: 100_000))) {
      XCTAssertTrue("\($0)".contains("nesting deeper than"), "\($0)")
    }
    XCTAssertThrowsError(try StudyPlan.load(URL(fileURLWithPath: "/dev/zero"))) {
      XCTAssertTrue("\($0)".contains("larger than"), "\($0)")
    }
  }
}
