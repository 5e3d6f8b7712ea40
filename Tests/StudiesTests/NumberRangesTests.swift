// Every number a plan or a study's calibration.json gives is range-checked where it is read: with
// -Ounchecked, `every: 1e19` once printed a negative step and a rate of 1e300 became "1 steps".
import Foundation
import Training
import XCTest
@testable import Studies

final class NumberRangesTests: XCTestCase {
  static let timed = """
    compare: time
    \(TinyPlan.base())
    stages:
      - {name: pretrain, seconds: 20, set: {dataset.MASK_RATIO: 0.75}}
    evaluation: {samples: 8}
    """

  func testOutOfRangeNumbersInAPlanAreRefused() {
    let steps = PlanNamesTests.plan()
    for (yaml, words) in [
      (steps.replacingOccurrences(of: "evaluation: {samples: 8}", with: "evaluation: {samples: 8, along: {every: 1e19, samples: 4}}"),
       "evaluation.along.every"),
      (steps.replacingOccurrences(of: "steps: 5, set", with: "steps: 1e14, set"), "at most"),
      (Self.timed.replacingOccurrences(of: "seconds: 20", with: "seconds: .inf"), "finite"),
      (Self.timed.replacingOccurrences(of: "seconds: 20", with: "seconds: 1e300"), "at most"),
      (Self.timed + "\ncalibration: {steps_per_second: {\"x\": 1e300}}\n", "at most 10^6"),
      (Self.timed + "\ncalibration: {steps_per_second: {\"x\": -5}}\n", "positive"),
      (steps.replacingOccurrences(of: "evaluation: {samples: 8}", with: "evaluation: {samples: 8, grid: 1e12}"), "evaluation.grid"),
      (steps.replacingOccurrences(of: "evaluation: {samples: 8}", with: "evaluation: {samples: 8, reference: {count: 1e12}}"),
       "evaluation.reference.count"),
    ] {
      XCTAssertThrowsError(try StudyPlan(yaml: yaml, name: "t"), words) { XCTAssertTrue("\($0)".contains(words), "\($0) should say \(words) for\n\(yaml)") }
    }
  }

  func testARateInCalibrationJSONIsCheckedWhenRead() throws {
    let plan = try StudyPlan(yaml: Self.timed, name: "t")
    let e = try Experiment(plan: plan)
    let signature = SpeedSetting(try XCTUnwrap(e.timedSettings.first))
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("calibration-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let dir = StudyDirectory(root)
    for rate in [-5.0, 1e300] {
      try dir.write(Calibration(entries: [signature: .init(stepsPerSecond: rate, source: "measured", machine: "m")], measuredOn: "m"),
                    to: dir.calibration)
      XCTAssertThrowsError(try StudyRunner.calibrated(plan, directory: root, measure: false)) {
        XCTAssertTrue("\($0)".contains("calibration.json") && "\($0)".contains("not a positive number"), "\($0)")
      }
    }
    try dir.write(Calibration(entries: [signature: .init(stepsPerSecond: 2, source: "measured", machine: "m")], measuredOn: "m"), to: dir.calibration)
    let calibrated = try StudyRunner.calibrated(plan, directory: root, measure: false)
    XCTAssertEqual(calibrated.variants[0].stages[0].config.trainSteps, 40)
  }
}
