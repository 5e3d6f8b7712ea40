// The cost of a plan before it runs: steps × seconds per step of each setting, shared stages once in
// the total, evaluations from their rates, and every gap named with its reason.
import Engine
import Foundation
import Training
import XCTest
@testable import Studies

final class StudyCostTests: XCTestCase {
  /// Baseline (pretrain 10 masked + finetune 20) and no position embedding (both stages its own); a
  /// DSM-only variant whose one stage shares nothing.
  static let plan = """
    name: cost
    compare: steps
    base: {batch_size: 8, dataset: {NAME: synthetic, COUNT: 64, IMG_SIZE: 16}, network: {img_size: 16, patch_size: 4, encoder_embed_dim: 32, encoder_depth: 3, encoder_heads: 2}}
    stages:
      - {name: pretrain, steps: 10, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 20}
    evaluation: {samples: 6, sampling_steps: 2, batch_size: 6, reference: {count: 6}}
    ablations:
      - {name: Positional information, part: position embedding, action: REMOVE}
    """

  func experiment(_ yaml: String = plan) throws -> Experiment { try Experiment(plan: try StudyPlan(yaml: yaml, name: "cost")) }
  let nowhere = StudyDirectory(URL(fileURLWithPath: "/nonexistent/maskdm-cost-study"))

  func testStepsTimesRatesSharedStagesOnceAndEvaluationsFromRates() throws {
    let e = try experiment()
    XCTAssertEqual(e.variants.count, 2)
    var rates = CostRates()
    let masked = SpeedSetting(e.variants[0].stages[0].config), unmasked = SpeedSetting(e.variants[0].stages[1].config)
    XCTAssertNotEqual(masked, unmasked)
    rates.secondsPerStep[masked] = (0.5, "test")
    rates.secondsPerStep[unmasked] = (2, "test")
    var cost = StudyCost(e, seeds: 3, rates: rates, directory: nowhere)
    XCTAssertEqual(cost.lines.map(\.steps), [90, 90])
    let perVariant: Double = 3 * (10 * 0.5 + 20 * 2)
    XCTAssertEqual(cost.lines.map(\.trainingSeconds), [perVariant, perVariant])
    XCTAssertEqual(cost.totalSteps, 180)
    XCTAssertEqual(cost.trainingSeconds, 270)
    XCTAssertNil(cost.evaluationSeconds)
    XCTAssertNil(cost.deviceHours)
    XCTAssertEqual(cost.notEstimated.count, 1)
    XCTAssertTrue(cost.notEstimated[0].hasPrefix("evaluation of every variant: no evaluation of this study is on record"), cost.notEstimated[0])

    // Sampling and Inception rates: (samples / sampling rate + samples / Inception rate) per seed, the reference once.
    let last = e.variants[0].stages[1].config
    rates.samplingImagesPerSecond[CostRates.samplingKey(last, e.variants[0].evaluation)] = 3
    rates.inceptionImagesPerSecond = 2
    cost = StudyCost(e, seeds: 3, rates: rates, directory: nowhere)
    let evaluation: Double = 3 * (6.0 / 3 + 6.0 / 2)
    XCTAssertEqual(cost.lines.map(\.evaluationSeconds), [evaluation, evaluation])
    XCTAssertEqual(cost.evaluationSeconds, 2 * evaluation + 6.0 / 2)
    let hours: Double = (270 + 33) / 3600
    XCTAssertEqual(cost.deviceHours ?? 0, hours, accuracy: 1e-12)
    XCTAssertEqual(cost.notEstimated, [])

    // A missing rate is named with its setting; the total is not made up.
    rates.secondsPerStep[masked] = nil
    cost = StudyCost(e, seeds: 1, rates: rates, directory: nowhere)
    XCTAssertNil(cost.trainingSeconds)
    XCTAssertEqual(cost.totalSteps, 60)
    XCTAssertEqual(cost.notEstimated, ["training of \(masked): no calibration on record has this setting and no run of the study has trained it (--estimate measures it)"])
  }

  func testAStageOnAGPUIsMeasuredOnlyWhereThereIsOne() throws {
    let e = try experiment(Self.plan.replacingOccurrences(of: "base: {batch_size: 8,", with: "base: {batch_size: 8, device: gpu,"))
    var rates = CostRates()
    rates.measure(e, warmupSteps: 1, timedSteps: 2, inceptionImages: 2)
    let key = SpeedSetting(e.variants[0].stages[0].config)
    XCTAssertEqual(key.device, .gpu, "\(key)")
    if Engine.gpuAvailable {
      XCTAssertNotNil(rates.secondsPerStep[key], "\(rates.missing)")
    } else {
      XCTAssertNil(rates.secondsPerStep[key])
      XCTAssertEqual(rates.missing["\(key)"], "it trains on the GPU (device: gpu) and this machine has none; estimate on the GPU machine, or carry its calibration in the plan")
      let cost = StudyCost(e, seeds: 1, rates: rates, directory: nowhere)
      XCTAssertTrue(cost.notEstimated.contains { $0.hasPrefix("training of \(key): it trains on the GPU") }, "\(cost.notEstimated)")
      XCTAssertTrue(cost.notEstimated.contains { $0.contains("it samples on the GPU and this machine has none") }, "\(cost.notEstimated)")
    }
  }
}
