// A plan's `datasets:` entry replaces the built-in one of the same name; it never inherits its keys.
import Foundation
import Training
import XCTest
@testable import Studies

final class PlanDatasetsTests: XCTestCase {
  func testAPlansDatasetReplacesTheBuiltInOneOfTheSameName() throws {
    let builtIn = try StudyPlan(yaml: PlanNamesTests.plan(), name: "t")
    XCTAssertTrue(builtIn.datasets["target"]?.contains { $0.key == "dataset.FRACTION" } == true, "the quick preset's target has a fraction")
    let yaml = PlanNamesTests.plan() + "\ndatasets:\n  target: {NAME: fashion-mnist, CLASSES: [2]}\n"
    let plan = try StudyPlan(yaml: yaml, name: "t")
    let keys = Set(plan.datasets["target"]?.map(\.key) ?? [])
    XCTAssertEqual(keys, ["dataset.NAME", "dataset.CLASSES"], "the plan's target inherited keys it does not have")
    // Entries the plan does not name stay as built in.
    XCTAssertEqual(plan.datasets["tops"], builtIn.datasets["tops"])
  }
}
