import Foundation
import XCTest

/// A result the plan or the weights no longer produce is never reused nor overwritten in place: an
/// edited plan retrains the variant it changed and says what changed, a cached evaluation of other
/// weights is measured again, and both old results stay in `superseded/`. (Its plan makes FID primary,
/// so it also checks the printed table: the primary metric first, KID beside it.)
final class StudySupersessionCLITests: XCTestCase {
  static func plan(finetuneSteps: Int) -> String {
    """
    name: supersede
    compare: steps
    \(StudyCLITests.tinyBase(seed: 5, checkpointEvery: 100))
    stages:
      - {name: pretrain, steps: 4, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: \(finetuneSteps)}
    evaluation: {samples: 6, sampling_steps: 2, batch_size: 6, grid: 4, reference: {count: 6}, primary_metric: fid}
    ablations:
      - {name: Positional information, part: position embedding, action: REMOVE}
    """
  }

  func testAnEditedPlanAndChangedWeightsAreMeasuredAgainAndTheOldResultsKept() throws {
    let dir = CLI.temporaryDirectory("supersede")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let planURL = dir.appendingPathComponent("plan.yaml"), out = dir.appendingPathComponent("out")
    let args = ["study", "run", planURL.path, "--out", out.path]
    try Self.plan(finetuneSteps: 8).write(to: planURL, atomically: true, encoding: .utf8)
    let first = try CLI.run(args)
    XCTAssertEqual(first.status, 0, first.stderr)
    // The table gives the primary metric first and the other one beside it.
    XCTAssertTrue(first.stdout.contains("FID, mean [95% CI]                  KID ×10³, mean [95% CI]"), first.stdout)
    XCTAssertTrue(first.stdout.contains("FID (primary) and KID from 6 samples"), first.stdout)

    // The baseline's evaluation on record claims other weights: it is measured again, the old one kept.
    let result = out.appendingPathComponent("results/two-stage-maskdm/seed-5.json")
    let evaluations = out.appendingPathComponent("evaluations")
    // The baseline's own evaluation: its finetune stage's run directory names the cache.
    let recorded = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: result)) as? [String: Any])
    let finetune = try XCTUnwrap(((recorded["stages"] as? [[String: Any]])?.last?["run_directory"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent })
    let cached = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: evaluations.path)
      .first { $0.hasPrefix("\(finetune)-") }.map { evaluations.appendingPathComponent($0) })
    var evaluation = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cached)) as? [String: Any])
    let measured = try XCTUnwrap(evaluation["weights"] as? String, "an evaluation records the checksum of the weights it measured")
    XCTAssertEqual(measured.count, 64)
    evaluation["weights"] = String(repeating: "0", count: 64)
    try JSONSerialization.data(withJSONObject: evaluation).write(to: cached)
    try FileManager.default.removeItem(at: result)
    let second = try CLI.run(args)
    XCTAssertEqual(second.status, 0, second.stderr)
    XCTAssertTrue(second.stderr.contains("the evaluation of stage finetune: its weights changed since it was measured (SHA-256 000000000000 → \(measured.prefix(12)))"),
                  second.stderr)
    let keptEvaluation = evaluations.appendingPathComponent("superseded")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: keptEvaluation.path).count, 1)
    let redone = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cached)) as? [String: Any])
    XCTAssertEqual(redone["weights"] as? String, measured, "measured again from the weights on disk")

    // The plan is edited: the changed stage trains again, the run says what changed, the old result stays.
    try Self.plan(finetuneSteps: 6).write(to: planURL, atomically: true, encoding: .utf8)
    let third = try CLI.run(args)
    XCTAssertEqual(third.status, 0, third.stderr)
    XCTAssertTrue(third.stderr.contains("two-stage (MaskDM), seed 5: finetune: 8 → 6 steps; the old result is kept in"), third.stderr)
    XCTAssertTrue(third.stderr.contains("stage pretrain") && third.stderr.contains("finished earlier, reused"), "an unchanged stage is reused: \(third.stderr)")
    let kept = out.appendingPathComponent("results/two-stage-maskdm/superseded")
    let keptFiles = try FileManager.default.contentsOfDirectory(atPath: kept.path)
    XCTAssertEqual(keptFiles.count, 1)
    let old = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: kept.appendingPathComponent(keptFiles[0]))) as? [String: Any])
    XCTAssertEqual((old["stages"] as? [[String: Any]])?.map { $0["steps"] as? Int }, [4, 8], "the old result as it was")
    let new = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: result)) as? [String: Any])
    XCTAssertEqual((new["stages"] as? [[String: Any]])?.map { $0["steps"] as? Int }, [4, 6])
  }
}
