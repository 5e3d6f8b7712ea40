// Repeats and calibrated budgets: each repeat moves every stage's seed (stages two variants share stay
// shared within a seed), time budgets become the steps a calibration says, and the report states
// intervals, verdicts and the protocol.
import Foundation
import Training
import XCTest
@testable import Studies

final class RepeatsTests: XCTestCase {
  static let plan = """
    compare: time
    \(TinyPlan.base(seed: 10))
    stages:
      - {name: pretrain, seconds: 20, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, seconds: 10}
    evaluation: {samples: 8, repeats: 3, primary_metric: fid}
    ablations:
      - {name: Positional information, part: position embedding, action: REMOVE}
      - {name: Single-stage training, part: schedule, replacements: [dsm_only]}
    """

  func testRepeatsMoveEverySeedAndKeepSharedStagesShared() throws {
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan, name: "t"))
    XCTAssertEqual(e.plan.repeats, 3)
    XCTAssertEqual(e.seeds(repeats: 3), [10, 11, 12])
    let baseline = e.variants[0]
    XCTAssertEqual(e.seeded(baseline, repeat: 0), baseline, "the first repeat is the variant itself")
    let second = e.seeded(baseline, repeat: 1)
    XCTAssertEqual(second.stages.map(\.config.seed), [11, 11])
    XCTAssertEqual(second.evaluation.seed, baseline.evaluation.seed + 1)
    XCTAssertNotEqual(second.stages[0].id, baseline.stages[0].id)
    XCTAssertEqual(second.stages[1].parent, second.stages[0].id, "the fine-tuning starts from its own seed's pre-training")
    XCTAssertNotEqual(second.key, baseline.key)
    // The position-embedding variant shares nothing with the baseline; the fine-tuning of no variant is
    // shared across seeds, and a stage shared within a seed stays shared.
    let dsm = try XCTUnwrap(e.variants.first { $0.stages.count == 1 })
    XCTAssertEqual(e.seeded(dsm, repeat: 2).stages[0].config.seed, 12)
    let twice = try Experiment(plan: try StudyPlan(yaml: Self.plan + "\n  - {name: Again, part: position embedding, action: REMOVE}", name: "t"))
    let noH = twice.variants.filter { $0.name.contains("without position") }
    XCTAssertEqual(noH.count, 1, "equal variants are one")
    XCTAssertThrowsError(try StudyPlan(yaml: Self.plan.replacingOccurrences(of: "repeats: 3", with: "repeats: 0"), name: "t")) {
      XCTAssertTrue("\($0)".contains("evaluation.repeats"), "\($0)")
    }
  }

  func testCalibrationTurnsTimeBudgetsIntoSteps() throws {
    let plan = try StudyPlan(yaml: Self.plan, name: "t")
    let uncalibrated = try Experiment(plan: plan)
    XCTAssertEqual(uncalibrated.variants[0].stages.map(\.config.trainSeconds), [20, 10])
    // Stage settings that differ only in what does not change a step's work share a calibration.
    let settings = uncalibrated.timedSettings.map { "\(SpeedSetting($0))" }
    XCTAssertEqual(settings.count, 2, "masked and unmasked: \(settings)")
    XCTAssertTrue(settings.contains { $0.contains("patch 0.75") } && settings.contains { $0.contains("unmasked") }, "\(settings)")
    var c = Calibration()
    for (s, rate) in zip(uncalibrated.timedSettings, [40.0, 8.0]) { c.entries[SpeedSetting(s)] = .init(stepsPerSecond: rate, source: "plan") }
    let e = try Experiment(plan: plan, calibration: c)
    let baseline = e.variants[0]
    XCTAssertEqual(baseline.stages.map(\.config.trainSteps), [800, 80])
    XCTAssertEqual(baseline.stages.map(\.config.trainSeconds), [nil, nil])
    XCTAssertEqual(baseline.stages.map(\.budgetSeconds), [20, 10])
    let dsm = try XCTUnwrap(e.variants.first { $0.stages.count == 1 })
    XCTAssertEqual(dsm.stages[0].config.trainSteps, 240, "DSM only: the whole 30 s at the unmasked rate")
    let noH = try XCTUnwrap(e.variants.first { $0.name.contains("without position") })
    XCTAssertEqual(noH.stages.map(\.config.trainSteps), [800, 80], "removing H does not change the step's work")
  }

  func testAPlanCarriesItsCalibration() throws {
    let signature = "16px p4 c3 d32x3 h2 mlp4 batch 64, patch 0.75, fp32 auto"
    let yaml = Self.plan + "\ncalibration:\n  measured_on: \"a 2-core AVX2 box\"\n  steps_per_second:\n    \"\(signature)\": 12.5\n"
    let plan = try StudyPlan(yaml: yaml, name: "t")
    // The plan's line is read into the typed setting the stage has.
    let setting = SpeedSetting(try Experiment(plan: plan).variants[0].stages[0].config)
    XCTAssertEqual(plan.calibration?.entries[setting]?.stepsPerSecond, 12.5)
    XCTAssertEqual(SpeedSetting(line: signature), setting)
    XCTAssertEqual("\(setting)", signature)
    let e = try Experiment(plan: plan, calibration: plan.calibration)
    XCTAssertEqual(e.variants[0].stages[0].config.trainSteps, 250)
    XCTAssertNotNil(e.variants[0].stages[1].config.trainSeconds, "a setting the plan does not calibrate keeps its seconds")
    XCTAssertThrowsError(try StudyPlan(yaml: yaml.replacingOccurrences(of: "12.5", with: "-1"), name: "t"))
    XCTAssertThrowsError(try StudyPlan(yaml: yaml.replacingOccurrences(of: "compare: time", with: "compare: steps")
                                        .replacingOccurrences(of: "seconds: 20", with: "steps: 5").replacingOccurrences(of: "seconds: 10", with: "steps: 5"), name: "t")) {
      XCTAssertTrue("\($0)".contains("compare: steps"), "\($0)")
    }
  }

  /// A result of variant `v`, seed repeat `i`, with FID `fid`.
  func result(_ e: Experiment, _ v: Variant, _ i: Int, fid: Double) -> VariantResult {
    let seeded = e.seeded(v, repeat: i)
    let stages = seeded.stages.map {
      StageResult(name: $0.name, id: $0.id,
                run: RunSummary(steps: 100, finalLoss: 0.1, trainSeconds: 10, deviceSeconds: 10, wallSeconds: 12, imagesPerSecond: 50,
                                warmupSeconds: 1, peakMemoryBytes: 1 << 20, device: "cpu", runDirectory: "runs/\($0.directoryName)",
                                lossCurve: [[1, 0.5], [100, 0.2]]),
                budgetSeconds: $0.budgetSeconds, maskRatio: $0.config.dataset.maskRatio,
                  evaluation: EvaluationResult(fid: fid, fidBootstrapLow: fid - 3, fidBootstrapHigh: fid + 3, kidMean: 0.01, kidStd: 0.001,
                                               samples: 8, referenceSamples: 8, sampler: "DDIM", seconds: 1, samplesPerSecond: 8, grid: nil))
    }
    return VariantResult(variant: seeded, stages: stages)
  }

  func testTheReportStatesIntervalsVerdictsAndProtocol() throws {
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan.replacingOccurrences(of: "compare: time", with: "compare: steps")
      .replacingOccurrences(of: "seconds: 20", with: "steps: 5").replacingOccurrences(of: "seconds: 10", with: "steps: 5"), name: "t"))
    let baseline = e.variants[0]
    let noH = try XCTUnwrap(e.variants.first { $0.name.contains("without position") })
    let dsm = try XCTUnwrap(e.variants.first { $0.stages.count == 1 })
    // two-stage 50, 60, 55; without H +1, -6, +6 (undecided: neither different nor within ±10%); DSM only +20, +25, +22 (worse).
    var results: [VariantResult] = []
    for (i, f) in [50.0, 60, 55].enumerated() {
      results += [result(e, baseline, i, fid: f), result(e, noH, i, fid: f + [1, -6, 6][i]), result(e, dsm, i, fid: f + [20, 25, 22][i])]
    }
    let machine = MachineInfo(cpu: "test CPU", cores: 2, memoryGB: 24, os: "Linux", mlx: "0.32.4", gpu: false)
    let report = StudyReport(experiment: e, results: results, repeats: 3, machine: machine)
    let verdicts = Dictionary(uniqueKeysWithValues: report.comparisons.map { ($0.slug, $0.verdict) })
    XCTAssertEqual(verdicts[noH.slug], .noClearDifference)
    XCTAssertEqual(verdicts[dsm.slug], .worse)
    let md = report.markdown()
    XCTAssertTrue(md.contains("55.00 [42.58, 67.42] (3 seeds)"), md)  // mean 55, t(0.975, 2) · 5 / √3 = 12.42
    XCTAssertTrue(md.contains("no clear difference at this budget") && md.contains("| worse |"), md)
    XCTAssertTrue(md.contains("Training seeds: 10, 11, 12"), md)
    // Seeds for the next study, from the paired sd (without H: differences 1, -6, 6, sd 6.03 = 11.0% of
    // 55; level 0.05 / 2): power now and seeds for 80%, as scipy's noncentral t gives them (0.083, 0.238;
    // 15 seeds (0.833, 14 give 0.798) and 6 (0.852)).
    XCTAssertTrue(md.contains("## Seeds for the next study"), md)
    XCTAssertTrue(md.contains("| 3 | 11.0% | 0.08 | 0.24 | 15 | 6 |"), md)
    let html = report.html(studyDirectory: URL(fileURLWithPath: "/nonexistent"))
    XCTAssertTrue(html.contains("class=\"errorbar\""), "error bars")
    XCTAssertTrue(html.contains("stroke-dasharray"), "masked stages dashed in the loss chart")
    XCTAssertTrue(html.contains("verdict worse"))
    let json = try JSONSerialization.jsonObject(with: resultsEncoder.encode(report.document)) as! [String: Any]
    let proto = json["protocol"] as! [String: Any]
    XCTAssertEqual(proto["training_seeds"] as? [Int], [10, 11, 12])
    XCTAssertEqual(proto["samples_per_fid"] as? Int, 8)
    XCTAssertTrue((proto["fid_implementation"] as? String ?? "").contains("TF-FID"))
    XCTAssertNotNil(proto["machine"] as? [String: Any])
    let variants = json["variants"] as! [[String: Any]]
    XCTAssertEqual((variants[0]["per_seed"] as? [Any])?.count, 3, "results.json holds the per-seed values")
    XCTAssertEqual(report.csv().split(separator: "\n").count, 1 + 9, "results.csv: one line per variant and seed")

    // One seed: the bootstrap interval, labelled, and no verdicts.
    let single = StudyReport(experiment: e, results: results.filter { $0.seed == 10 }, repeats: 1, machine: machine)
    XCTAssertTrue(single.markdown().contains("50.00 [47.00, 53.00] bootstrap, 1 seed"), single.markdown())
    XCTAssertTrue(single.comparisons.allSatisfy { $0.verdict == .oneSeed })
  }
}
