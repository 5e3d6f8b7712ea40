// Plans: the shipped ones expand under both presets, parts change what they should, shared stages
// are shared, and mistakes are errors that name the key or list the known parts.
import Foundation
import MaskDM
import Training
import XCTest
@testable import Studies

final class PlanTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  func plan(_ yaml: String, preset: String? = nil) throws -> Experiment {
    try Experiment(plan: try StudyPlan(yaml: yaml, name: "test", preset: preset))
  }

  func testEveryShippedPlanExpandsUnderBothPresets() throws {
    let plans = try FileManager.default.contentsOfDirectory(at: Self.root.appendingPathComponent("plans"), includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "yaml" }
    XCTAssertGreaterThanOrEqual(plans.count, 7)
    for url in plans {
      // A plan may choose its own budget kind (plans/stage_parts.yaml compares quick runs at equal steps).
      let ownCompare = try String(contentsOf: url, encoding: .utf8).contains("compare:")
      for preset in ["quick", "paper"] {
        let e = try Experiment(plan: try StudyPlan.load(url, preset: preset))
        XCTAssertFalse(e.studies.isEmpty, url.lastPathComponent)
        XCTAssertGreaterThanOrEqual(e.variants.count, 2, "\(url.lastPathComponent) \(preset)")
        if !ownCompare { XCTAssertEqual(e.plan.compare, preset == "quick" ? .time : .steps) }
        for v in e.variants { XCTAssertTrue(v.stages.allSatisfy { $0.config.network.imageSize == (preset == "quick" ? 32 : 64) }) }
      }
    }
  }

  func testDemoPlanAsksOneQuestionAtEqualTimeWithSeedsAndItsCalibration() throws {
    let plan = try StudyPlan.load(Self.root.appendingPathComponent("plans/demo.yaml"), preset: "quick")
    XCTAssertEqual(plan.decision.design, .fixed(3), "seeds fixed in advance")
    XCTAssertEqual(plan.decision.primaryMetric, .fid, "FID, chosen from the pilot on seeds 1-3 before seeds 4-6 ran")
    XCTAssertEqual(plan.base.seed, 4, "the confirmation runs on seeds the pilot did not use")
    XCTAssertGreaterThanOrEqual(plan.evaluation.reference.count, 1000)
    let uncalibrated = try Experiment(plan: plan)
    XCTAssertEqual(uncalibrated.studies.map(\.name), ["Single-stage training"])
    // The plan carries the rate of every stage setting it times, so that every machine trains the same steps.
    let calibration = try XCTUnwrap(plan.calibration)
    for setting in uncalibrated.timedSettings { XCTAssertNotNil(calibration.entries[SpeedSetting(setting)], "\(SpeedSetting(setting))") }
    let e = try Experiment(plan: plan, calibration: calibration)
    let baseline = e.variants[0]
    XCTAssertEqual(baseline.stages.map(\.name), ["pretrain", "finetune"])
    XCTAssertEqual(baseline.stages[0].config.dataset.maskRatio, 0.9)
    XCTAssertEqual(baseline.stages[1].config.dataset.maskRatio, 0)
    XCTAssertEqual(baseline.stages[1].parent, baseline.stages[0].id)
    XCTAssertTrue(e.variants.flatMap(\.stages).allSatisfy { $0.config.trainSeconds == nil }, "every budget is steps")
    let total = baseline.stages.compactMap(\.budgetSeconds).reduce(0, +)
    XCTAssertEqual(total, 90)
    let rows = e.studies[0].rows
    XCTAssertEqual(rows.count, 2)
    let dsm = try XCTUnwrap(e.variants.first { $0.slug == rows[1].slug })
    XCTAssertEqual(dsm.stages.count, 1)
    XCTAssertFalse(dsm.stages[0].isMasked)
    XCTAssertEqual(dsm.stages[0].budgetSeconds, total, "DSM only gets the whole budget")
    XCTAssertEqual(dsm.stages[0].config.trainSteps, calibration.steps(for: dsm.stages[0].config, seconds: total))
    XCTAssertEqual(e.variants.count, 2)
    XCTAssertNil(e.speedUpReference, "no curves in the demo: its answer is the verdict at equal time")
  }

  func testEveryShippedQuickPlanDrawsItsReferenceFromAtLeast1000RandomImages() throws {
    let plans = try FileManager.default.contentsOfDirectory(at: Self.root.appendingPathComponent("plans"), includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "yaml" }
    XCTAssertFalse(plans.isEmpty)
    for url in plans {
      let plan = try StudyPlan.load(url, preset: "quick")
      XCTAssertGreaterThanOrEqual(plan.evaluation.reference.count, 1000, url.lastPathComponent)
      XCTAssertNil(plan.evaluation.reference.statistics, url.lastPathComponent)
      XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).contains("Verdicts:"), "\(url.lastPathComponent) states its family, metric and margin")
    }
  }

  func testStagesSharedByVariantsRunOnce() throws {
    let e = try Experiment(plan: try StudyPlan.load(Self.root.appendingPathComponent("plans/limited_data.yaml"), preset: "quick"))
    XCTAssertEqual(e.variants.count, 3)
    XCTAssertEqual(Set(e.variants.map { $0.stages[0].id }).count, 1, "one pre-training for every fraction")
    XCTAssertEqual(Set(e.variants.map { $0.stages[1].id }).count, 3)
    XCTAssertEqual(e.variants.map { $0.stages[1].config.dataset.fraction }, [1, 0.1, 0.01])
    XCTAssertEqual(e.uniqueStages.count, 4)
  }

  func testPretrainingDatasetStudyFineTunesOnTheTarget() throws {
    let e = try Experiment(plan: try StudyPlan.load(Self.root.appendingPathComponent("plans/pretrain_dataset.yaml"), preset: "quick"))
    XCTAssertEqual(e.variants.count, 2, "the unused baseline is not trained")
    XCTAssertEqual(e.variants[0].stages[0].config.dataset.classes, [0, 2, 4, 6])
    XCTAssertEqual(e.variants[1].stages[0].config.dataset.classes, [5, 7, 9])
    for v in e.variants {
      XCTAssertEqual(v.stages[1].config.dataset.classes, [1, 3, 8])
      XCTAssertEqual(v.stages[1].config.dataset.fraction, 0.1)
    }
  }

  func testStepBudgetsSumForSingleStage() throws {
    let e = try plan("""
      ablations: [{name: S, part: schedule, action: REPLACE, replacements: [mdsm_only]}]
      """, preset: "paper")
    XCTAssertEqual(e.variants[1].stages[0].config.trainSteps, 400_000)
    XCTAssertNil(e.variants[1].stages[0].config.trainSeconds)
  }

  func testMistakesNameTheKeyAndTheFix() throws {
    func message(_ yaml: String, preset: String? = nil) -> String {
      do { _ = try plan(yaml, preset: preset); return "no error" } catch { return "\(error)" }
    }
    XCTAssertTrue(message("ablation: []").contains("did you mean ablations"), message("ablation: []"))
    XCTAssertTrue(message("evaluation: {sample: 10}").contains("evaluation.sample; did you mean samples"))
    XCTAssertTrue(message("base: {lrr: 0.1}").contains("did you mean lr"))
    let unknown = message("ablations: [{part: colour of the sky, action: REMOVE}]")
    XCTAssertTrue(unknown.contains("unknown ablated part") && unknown.contains("mask rate") && unknown.contains("position embedding"), unknown)
    XCTAssertTrue(message("ablations: [{part: network.mlp_ration, action: REPLACE, replacements: [2]}]").contains("did you mean network.mlp_ratio"))
    XCTAssertTrue(message("ablations: [{part: mask rate, action: REMOVE}]").contains("cannot be removed"))
    XCTAssertTrue(message("ablations: [{part: mask rate, action: REPLACE}]").contains("needs at least one replacement"))
    XCTAssertTrue(message("ablations: [{part: mask rate, action: REPLACE, replacements: [1.5]}]").contains("MASK_RATIO must be in [0, 1)"))
    XCTAssertTrue(message("ablations: [{part: pre-training dataset, action: REPLACE, replacements: [ImageNet]}]").contains("not under the plan's datasets"))
    XCTAssertTrue(message("ablations: []", preset: "huge").contains("unknown preset huge"))
    XCTAssertTrue(message("compare: steps\nablations: []", preset: "quick").contains("needs a positive number of steps"))
    XCTAssertTrue(message("stages: [{name: a, init_from: b, seconds: 1}]").contains("not an earlier stage"))
  }

  func testPartsAreRecognisedFromHowPeopleWriteThem() throws {
    XCTAssertEqual(try PlanPart.recognize("Addition of positional information H to the input before masking").part, .positionEmbedding)
    XCTAssertEqual(try PlanPart.recognize("Two-stage training framework (masked pre-training + denoising fine-tuning)").part, .schedule)
    XCTAssertEqual(try PlanPart.recognize("masking rate").part, .maskRate)
    XCTAssertEqual(try PlanPart.recognize("pre-training dataset").part, .pretrainDataset)
    XCTAssertEqual(try PlanPart.recognize("masking strategy").part, .maskType)
    XCTAssertEqual(try PlanPart.recognize("fine-tuning data size").part, .finetuneFraction)
    XCTAssertEqual(try PlanPart.recognize("network.mlp_ratio").part, .config("network.mlp_ratio"))
    // Every known name reads (the knobs' entry is a list of names: each of them).
    for name in PlanPart.known.dropLast().flatMap({ $0.name.components(separatedBy: ", ") }) { XCTAssertNoThrow(try PlanPart.recognize(name).part, name) }
    XCTAssertEqual(try ScheduleChoice.parse("Single-stage training using the Masked Denoising Score Matching (MDSM) objective"), .mdsmOnly)
  }

  func testSamplersOfTheEvaluationAndItsReplacements() throws {
    let e = try plan("""
      evaluation: {sampler: dpm++2m, sampling_steps: 20}
      ablations:
        - {name: S, part: sampler, action: REPLACE, replacements: [dpm++2m 10, ddim 25, ddpm]}
      """)
    XCTAssertEqual(e.variants.map(\.evaluation.sampler), [.dpmSolver2M(steps: 20), .dpmSolver2M(steps: 10), .ddim(steps: 25, eta: 0), .ddpm])
    XCTAssertEqual(e.variants[1].name, "S: DPM++2M 10 steps")
    func message(_ yaml: String) -> String {
      do { _ = try plan(yaml); return "no error" } catch { return "\(error)" }
    }
    let unknown = message("evaluation: {sampler: heun}")
    XCTAssertTrue(unknown.contains("evaluation.sampler") && unknown.contains("dpm++2m"), unknown)
    let replacement = message("ablations: [{name: S, part: sampler, action: REPLACE, replacements: [euler 10]}]")
    XCTAssertTrue(replacement.contains("dpm++2m [steps]"), replacement)
  }

  func testReplacementsChangeTheMaskedStagesOnly() throws {
    let e = try plan("""
      ablations:
        - {name: T, part: mask type, action: REPLACE, replacements: [block 2, crop 3]}
        - {name: N, part: noise schedule, action: REPLACE, replacements: [linear]}
      """)
    let block = e.variants[1], crop = e.variants[2], linear = e.variants[3]
    XCTAssertEqual(block.stages[0].config.dataset.mask, .block(2))
    XCTAssertEqual(block.stages[1].config.dataset.mask, .patch)
    XCTAssertEqual(crop.stages[0].config.dataset.mask, .crop(3))
    XCTAssertEqual(block.stages[1].parent, block.stages[0].id)
    XCTAssertNotEqual(block.stages[1].id, e.variants[0].stages[1].id, "a changed parent changes the child")
    XCTAssertEqual(linear.stages.map(\.config.betaSchedule), [.linear, .linear])
  }

  /// `bench train --preset quick` and the comparison harness's quick row time the model the quick
  /// preset's studies train: one description of it may not drift from the other.
  func testTheQuickPresetTrainsTheBenchmarkedStudyModel() throws {
    let e = try Experiment(plan: try StudyPlan.load(Self.root.appendingPathComponent("plans/demo.yaml"), preset: "quick"))
    for stage in e.variants.flatMap(\.stages) {
      var network = stage.config.network
      network.usePositionEmbedding = true
      XCTAssertEqual(network, ModelConfig.quick, stage.name)
    }
  }
}
