// FID along training and time to a target FID: the crossing on hand-made curves (interpolated, never
// reached, reached before the first point), the plan's `evaluation.along` and its checks, and the
// report's time-to-target table, sentences, curves and results.json on hand-made per-seed results.
import Foundation
import Training
import XCTest
@testable import Studies

final class TimeToTargetTests: XCTestCase {
  func testCrossingIsInterpolatedBetweenPoints() {
    let curve = [(seconds: 10.0, fid: 300.0), (20, 200), (30, 100)]
    XCTAssertEqual(firstCrossing(of: 150, on: curve), .reached(seconds: 25))
    XCTAssertEqual(firstCrossing(of: 200, on: curve), .reached(seconds: 20), "a point at the target reaches it")
    XCTAssertEqual(firstCrossing(of: 50, on: curve), .notReached)
    XCTAssertEqual(firstCrossing(of: 350, on: curve), .beforeFirstPoint(seconds: 10))
    XCTAssertEqual(firstCrossing(of: 350, on: curve).seconds, 10, "an upper bound stands in for the time")
    XCTAssertNil(Crossing.notReached.seconds)
    // Not monotone: the first crossing counts, not a later one.
    let bumpy = [(seconds: 10.0, fid: 300.0), (20, 100), (30, 250), (40, 50)]
    XCTAssertEqual(firstCrossing(of: 150, on: bumpy), .reached(seconds: 17.5))
    XCTAssertEqual(firstCrossing(of: 150, on: []), .notReached)
    XCTAssertEqual(firstCrossing(of: 150, on: [(10, .nan), (20, 100)]), .beforeFirstPoint(seconds: 20), "non-finite points are skipped")
  }

  func testTheTimeAxisIsTheCalibratedBudgetWhereThereIsOne() {
    func stage(budget: Double?) -> StageResult {
      StageResult(name: "s", id: "x", runDirectory: "runs/s-x", budgetSeconds: budget, steps: 100, finalLoss: nil, trainSeconds: 60,
                  deviceSeconds: 60, warmupSeconds: nil, wallSeconds: 70, imagesPerSecond: 1, peakMemoryBytes: 0, device: "cpu",
                  maskRatio: 0, lossCurve: [], evaluation: nil,
                  timeline: [TimelinePoint(step: 50, fid: 10, kidMean: nil, precision: nil, recall: nil, samples: 8)])
    }
    let calibrated = timelineCurve(of: [stage(budget: 20), stage(budget: 20)])
    XCTAssertEqual(calibrated.map(\.trainingSeconds), [10, 30], "half of each 20 s budget")
    XCTAssertEqual(calibrated.map(\.measuredSeconds), [30, 90], "the measured 60 s per stage, kept beside")
    XCTAssertEqual(timelineCurve(of: [stage(budget: nil)]).map(\.trainingSeconds), [30], "no budget: the measured time")
  }

  static let plan = """
    compare: steps
    base:
      seed: 10
      dataset: {NAME: synthetic, IMG_SIZE: 16}
      network: {img_size: 16, patch_size: 4, in_chans: 3, encoder_embed_dim: 32, encoder_depth: 3, encoder_heads: 2}
    stages:
      - {name: pretrain, steps: 100, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 100}
    evaluation: {samples: 16, repeats: 3, along: {every: 50, samples: 8}}
    ablations:
      - {name: Positional information, part: position embedding, action: REMOVE, metrics: [FID, time to target]}
      - {name: Single-stage training, part: schedule, replacements: [dsm_only], metrics: [FID, time to target]}
    """

  func testAlongSetsEachStagesSnapshotsAndIsChecked() throws {
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan, name: "t"))
    XCTAssertEqual(e.plan.evaluation.along, TimelineSpec(every: .steps(50), samples: 8))
    XCTAssertEqual(e.variants[0].stages.map(\.config.snapshotEvery), [50, 50])
    XCTAssertTrue(e.variants[0].stages[0].config.yaml().contains("snapshot_every: 50"))
    XCTAssertFalse(TrainConfig().yaml().contains("snapshot_every"), "configurations without snapshots read as before")
    XCTAssertEqual(e.plan.ablations[1].metrics, ["FID", "time to target"])
    XCTAssertTrue(e.variants.allSatisfy { $0.evaluation.along != nil })
    // When some studies ask for a time to target, only their variants are evaluated along training.
    let one = try Experiment(plan: try StudyPlan(yaml: Self.plan.replacingOccurrences(of: "action: REMOVE, metrics: [FID, time to target]",
                                                                                      with: "action: REMOVE"), name: "t"))
    let alongBySlug = Dictionary(uniqueKeysWithValues: one.variants.map { ($0.name, $0.evaluation.along != nil) })
    XCTAssertEqual(alongBySlug, ["two-stage (MaskDM)": true, "Single-stage training: DSM only": true,
                                 "Positional information: without position embedding": false])
    // Seconds become each stage's steps by its calibrated rate.
    let timed = TimelineSpec(every: .seconds(10), samples: 8)
    XCTAssertEqual(timed.snapshotEvery(steps: 925, budgetSeconds: 20), 463, "points at 463 and 925")
    XCTAssertEqual(timed.snapshotEvery(steps: 217, budgetSeconds: 30), 73, "73, 146, 217: no sliver at the end")
    XCTAssertEqual(timed.snapshotEvery(steps: 72, budgetSeconds: 10), 72, "one point: the stage's end")
    XCTAssertEqual(timed.snapshotEvery(steps: 40, budgetSeconds: 4), 40, "a stage shorter than the spacing has its end only")
    XCTAssertNil(timed.snapshotEvery(steps: 925, budgetSeconds: nil))
    func refused(_ from: String, _ to: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
      XCTAssertThrowsError(try StudyPlan(yaml: Self.plan.replacingOccurrences(of: from, with: to), name: "t"), file: file, line: line) {
        XCTAssertTrue("\($0)".contains(expected), "\($0)", file: file, line: line)
      }
    }
    refused("every: 50", "every: often", "evaluation.along.every")
    refused("every: 50", "every: 0", "evaluation.along.every")
    refused("every: 50", "every: 5 s", "compares at equal steps")
    refused("samples: 8}", "samples: 32}", "more than the final evaluation's")
    refused(", along: {every: 50, samples: 8}", "", "time to target")
    refused(", along: {every: 50, samples: 8}", ", target_fid: 50", "target_fid")
    refused("samples: 8}", "samples: 8}, target_fid: -3", "positive FID")
    XCTAssertEqual(try StudyPlan(yaml: Self.plan.replacingOccurrences(of: "every: 50", with: "every: 50 steps"), name: "t").evaluation.along?.every,
                   .steps(50))
  }

  /// A result of `v`'s `i`-th seed: each stage 100 steps in 10 s, its points at steps 50 and 100 with `fids`.
  func result(_ e: Experiment, _ v: Variant, _ i: Int, fids: [[Double]]) -> VariantResult {
    let seeded = e.seeded(v, repeat: i)
    let stages = seeded.stages.enumerated().map { k, s -> StageResult in
      let steps = 100 * (fids[k].count / 2)
      let timeline = fids[k].enumerated().map { j, fid in
        TimelinePoint(step: 50 * (j + 1), fid: fid, kidMean: nil, precision: 0.5, recall: 0.25, samples: 8)
      }
      let final = fids[k].last!
      return StageResult(
        name: s.name, id: s.id, runDirectory: "runs/\(s.directoryName)", budgetSeconds: nil, steps: steps, finalLoss: 0.1,
        trainSeconds: Double(steps) / 10, deviceSeconds: Double(steps) / 10, warmupSeconds: 1, wallSeconds: 12, imagesPerSecond: 50,
        peakMemoryBytes: 1 << 20, device: "cpu", maskRatio: s.config.dataset.maskRatio, lossCurve: [[1, 0.5]],
        evaluation: EvaluationResult(fid: final, fidBootstrapLow: nil, fidBootstrapHigh: nil, kidMean: nil, kidStd: nil, samples: 16,
                                     referenceSamples: 16, sampler: "DDIM", seconds: 1, samplesPerSecond: 8, grid: nil,
                                     precision: 0.6, recall: 0.3),
        timeline: timeline)
    }
    return VariantResult(variant: seeded, stages: stages)
  }

  func testTheReportTimesEveryVariantToTheDSMOnlyFinalFID() throws {
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan, name: "t"))
    let twoStage = e.variants[0]
    let noH = try XCTUnwrap(e.variants.first { $0.name.contains("without position") })
    let dsm = try XCTUnwrap(e.variants.first { $0.stages.count == 1 })
    var results: [VariantResult] = []
    // DSM only: 200 steps in 20 s, points every 5 s; final FIDs 120, 130, 110: the target is 120.
    let dsmCurves: [[Double]] = [[300, 200, 160, 120], [310, 210, 170, 130], [290, 190, 150, 110]]
    // Two-stage reaches 120 at 18, 17 and 19 s: 90%, 85%, 95% of DSM only's 20 s.
    let fineTunes: [[Double]] = [[150, 100], [140, 90], [160, 110]]
    for i in 0..<3 {
      results.append(result(e, twoStage, i, fids: [[400, 300], fineTunes[i]]))
      results.append(result(e, dsm, i, fids: [dsmCurves[i]]))
      // Without H: seed 1 never gets below 125.
      results.append(result(e, noH, i, fids: [[400, 320], i == 1 ? [200, 125] : [130, 100]]))
    }
    let machine = MachineInfo(cpu: "test CPU", cores: 2, memoryGB: 24, os: "Linux", mlx: "0.32.4", gpu: false)
    let report = StudyReport(experiment: e, results: results, repeats: 3, machine: machine)
    let target = try XCTUnwrap(report.target)
    XCTAssertEqual(target.fid, 120, accuracy: 1e-12)
    XCTAssertEqual(target.referenceSlug, dsm.slug)
    XCTAssertTrue(target.isReferenceFinal)
    let times = Dictionary(uniqueKeysWithValues: report.timesToTarget.map { ($0.slug, $0) })
    let two = try XCTUnwrap(times[twoStage.slug])
    XCTAssertEqual(two.perSeed.map(\.seconds), [18, 17, 19])
    XCTAssertEqual(two.seconds?.mean ?? 0, 18, accuracy: 1e-9)
    let ratio = try XCTUnwrap(two.ratio)
    XCTAssertEqual(ratio.mean, 0.9, accuracy: 1e-9)
    // t(0.975, 2) = 4.302653; sd 0.05; half width 4.302653 · 0.05 / √3 = 0.124207.
    XCTAssertEqual(ratio.low ?? 0, 0.9 - 0.124207, accuracy: 1e-5)
    XCTAssertEqual(ratio.high ?? 0, 0.9 + 0.124207, accuracy: 1e-5)
    let missing = try XCTUnwrap(times[noH.slug])
    XCTAssertEqual(missing.reached, 2)
    XCTAssertNil(missing.seconds, "no mean over only the seeds that reached it")
    XCTAssertNil(missing.ratio)

    let md = report.markdown()
    XCTAssertTrue(md.contains("## Time to target"), md)
    XCTAssertTrue(md.contains("two-stage (MaskDM) reaches DSM only's final FID (120.0) in 90% of its time (95% CI 78-102%, 3 seeds)"), md)
    XCTAssertTrue(md.contains("did not reach FID 120.0 within its budget in 1 of 3 seeds (seed 11)"), md)
    XCTAssertTrue(md.contains("| 1.11x |"), "speed-up 1 / 0.9: \(md)")
    XCTAssertTrue(md.contains("not reached"), md)
    XCTAssertTrue(md.contains("precision [95% CI]") && md.contains("0.60"), md)

    let html = report.html(studyDirectory: URL(fileURLWithPath: "/nonexistent"))
    XCTAssertTrue(html.contains("FID along training"))
    XCTAssertTrue(html.contains("class=\"band\""), "CI bands over seeds")
    XCTAssertTrue(html.contains("class=\"target\""), "the target FID as a line")
    XCTAssertTrue(html.contains("Time to target"))

    // results.json holds every point of every curve per seed, and the summary curve.
    let json = try JSONSerialization.jsonObject(with: resultsEncoder.encode(report.document)) as! [String: Any]
    let variants = json["variants"] as! [[String: Any]]
    let first = variants[0]
    XCTAssertEqual((first["curve"] as? [Any])?.count, 4)
    let perSeed = first["per_seed"] as! [[String: Any]]
    XCTAssertEqual(perSeed.count, 3)
    let points = perSeed[0]["curve"] as! [[String: Any]]
    XCTAssertEqual(points.map { $0["training_seconds"] as! Double }, [5, 10, 15, 20])
    XCTAssertEqual(points.map { $0["stage"] as! String }, ["pretrain", "pretrain", "finetune", "finetune"])
    XCTAssertEqual((json["times_to_target"] as? [Any])?.count, 3)
  }

  func testAPlanTargetAndAPointAlreadyBelowIt() throws {
    let yaml = Self.plan.replacingOccurrences(of: "samples: 8}}", with: "samples: 8}, target_fid: 305}")
    let e = try Experiment(plan: try StudyPlan(yaml: yaml, name: "t"))
    XCTAssertEqual(e.plan.targetFID, 305)
    let dsm = try XCTUnwrap(e.variants.first { $0.stages.count == 1 })
    let results = [result(e, e.variants[0], 0, fids: [[400, 300], [150, 100]]), result(e, dsm, 0, fids: [[300, 200, 160, 120]])]
    let report = StudyReport(experiment: e, results: results, repeats: 1, machine: .current)
    let times = Dictionary(uniqueKeysWithValues: report.timesToTarget.map { ($0.slug, $0) })
    XCTAssertEqual(times[e.variants[0].slug]?.perSeed.first?.seconds ?? 0, 9.75, accuracy: 1e-9, "400 → 300 between 5 and 10 s")
    let d = try XCTUnwrap(times[dsm.slug]?.perSeed.first)
    XCTAssertTrue(d.beforeFirstPoint, "DSM only is at 300 ≤ 305 at its first point")
    XCTAssertEqual(d.seconds, 5)
    XCTAssertEqual(times[e.variants[0].slug]?.perSeed.first?.ratio ?? 0, 9.75 / 5, accuracy: 1e-9, "against DSM only's own time to the target")
    XCTAssertTrue(report.markdown().contains("evaluation.target_fid in the plan"))
  }
}
