// The plan's decision settings as a user writes them: the primary metric, the margin, the family's rate
// and the seeds (fixed or sequential), each bad value refused with the fix, and the rules a speed-up needs.
import Foundation
import XCTest
@testable import Studies

final class DecisionPlanTests: XCTestCase {
  static let base = """
    compare: steps
    \(TinyPlan.base())
    stages:
      - {name: pretrain, steps: 30, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 30}
    ablations:
      - {name: Single-stage training, part: schedule, replacements: [dsm_only, mdsm_only], metrics: [FID, time to target]}
    """

  /// The plan with `evaluation`; without `along`, its ablation does not ask for a time to target.
  func plan(_ evaluation: String) throws -> StudyPlan {
    let yaml = evaluation.contains("along") ? Self.base : Self.base.replacingOccurrences(of: ", time to target", with: "")
    return try StudyPlan(yaml: yaml + "\nevaluation: \(evaluation)\n", name: "t")
  }

  func error(_ evaluation: String) -> String {
    do { _ = try Experiment(plan: try plan(evaluation)); return "" } catch { return "\(error)" }
  }

  func testDefaultsAndChoices() throws {
    let d = try plan("{samples: 500}").decision
    XCTAssertEqual(d.primaryMetric, .kid, "KID below 2048 samples")
    XCTAssertEqual(d.alpha, 0.05)
    XCTAssertEqual(d.equivalenceMargin, 0.1)
    XCTAssertEqual(d.design, .fixed(1))
    XCTAssertEqual(try plan("{samples: 2048}").decision.primaryMetric, .fid, "FID from 2048 samples on")
    XCTAssertEqual(try plan("{samples: 500, primary_metric: fid}").decision.primaryMetric, .fid)
    XCTAssertEqual(try plan("{repeats: {min: 4, max: 12}}").decision.design, .sequential(min: 4, max: 12, step: 2))
    XCTAssertEqual(try plan("{repeats: {min: 4, max: 12}}").repeats, 12, "a sequential design runs at most its maximum")
    XCTAssertEqual(try plan("{repeats: 5, alpha: 0.01, equivalence_margin: 0.2}").decision,
                   DecisionSpec(primaryMetric: .kid, alpha: 0.01, equivalenceMargin: 0.2, design: .fixed(5)))
    XCTAssertEqual(try plan("{reference: {count: 100, seed: 7}}").evaluation.reference.seed, 7)
  }

  func testBadValuesNameTheKeyAndTheFix() {
    XCTAssertTrue(error("{primary_metric: is}").contains("evaluation.primary_metric must be auto, kid or fid (got is)"))
    XCTAssertTrue(error("{primary_metric: kid, kid: false}").contains("set primary_metric: fid"))
    XCTAssertTrue(error("{alpha: 0.7}").contains("evaluation.alpha must be between 0 and 0.5"))
    XCTAssertTrue(error("{equivalence_margin: 0}").contains("evaluation.equivalence_margin is a fraction"))
    XCTAssertTrue(error("{repeats: {min: 4}}").contains("needs min: and max:"))
    XCTAssertTrue(error("{repeats: {min: 6, max: 4}}").contains("2 ≤ min < max"))
    XCTAssertTrue(error("{repeats: {min: 4, max: 8, every: 2}}").contains("unknown key evaluation.repeats.every"))
    XCTAssertTrue(error("{repeats: 0}").contains("evaluation.repeats must be 1 to 100"))
    XCTAssertTrue(error("{target_fid: 100, along: {every: 10, samples: 8}}").contains("evaluation.target_fid is no longer read"))
    XCTAssertTrue((try? StudyPlan(yaml: Self.base + "\nevaluation: {samples: 8}\n")) == nil, "time to target needs points along training")
  }

  func testASpeedUpNeedsThreePointsInEveryStage() throws {
    XCTAssertTrue(error("{along: {every: 15, samples: 8}}").contains("gives stage pretrain of two-stage (MaskDM) 2 points"),
                  error("{along: {every: 15, samples: 8}}"))
    let e = try Experiment(plan: try plan("{along: {every: 10, samples: 8}}"))
    let reference = try XCTUnwrap(e.speedUpReference)
    let dsm = try XCTUnwrap(e.variants.first { $0.slug == reference })
    XCTAssertEqual(dsm.stages.count, 1)
    XCTAssertFalse(dsm.stages[0].isMasked, "the speed-up reference is DSM only, not MDSM only")
  }
}
