import Foundation
import XCTest

/// `evaluation.along` as a user runs it: every stage keeps EMA snapshots, each is evaluated (FID, KID,
/// precision, recall), DSM only trains on to twice its budget in a copy of its run, the report reads each
/// variant's speed-up on DSM only's curve, and a study killed during an along-the-timeline evaluation
/// finishes on the next run without re-evaluating the points it had measured, with the results of a run
/// never killed.
final class StudyTimelineCLITests: XCTestCase {
  static let plan = """
    name: clitimeline
    compare: steps
    \(StudyCLITests.tinyBase(seed: 5, checkpointEvery: 10))
    stages:
      - {name: pretrain, steps: 30, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 30}
    evaluation: {samples: 8, sampling_steps: 2, batch_size: 8, grid: 4, reference: {count: 8}, along: {every: 10, samples: 6}}
    ablations:
      - {name: Single-stage training, part: schedule, replacements: [dsm_only], metrics: [FID, time to target]}
    """

  /// The curves of results.json by variant: per seed, "stage step FID precision recall" per point.
  func curves(_ out: URL) throws -> [String: [[String]]] {
    let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json"))) as? [String: Any])
    var out: [String: [[String]]] = [:]
    for v in try XCTUnwrap(document["variants"] as? [[String: Any]]) {
      let seeds = try XCTUnwrap(v["per_seed"] as? [[String: Any]])
      out[v["name"] as! String] = seeds.map { seed in
        ((seed["curve"] as? [[String: Any]]) ?? []).map { p in
          "\(p["stage"]!) \(p["step"]!) \(p["fid"]!) \(p["precision"] ?? "-") \(p["recall"] ?? "-")"
        }
      }
    }
    return out
  }

  func testKilledDuringAnAlongEvaluationFinishesWithoutRedoingPoints() throws {
    let dir = CLI.temporaryDirectory("timeline")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let planURL = dir.appendingPathComponent("plan.yaml")
    try Self.plan.write(to: planURL, atomically: true, encoding: .utf8)

    // The run nobody kills.
    let whole = dir.appendingPathComponent("whole")
    let reference = try CLI.run(["study", "run", planURL.path, "--out", whole.path])
    XCTAssertEqual(reference.status, 0, reference.stderr)
    XCTAssertTrue(reference.stderr.contains("along pretrain [1/3] step 10: FID"), reference.stderr)
    let expected = try curves(whole)
    XCTAssertEqual(expected.count, 2)
    let twoStage = try XCTUnwrap(expected["two-stage (MaskDM)"]?.first)
    let fields = twoStage.map { $0.split(separator: " ").map(String.init) }
    XCTAssertEqual(fields.map { "\($0[0]) \($0[1])" },
                   ["pretrain 10", "pretrain 20", "pretrain 30", "finetune 10", "finetune 20", "finetune 30"])
    XCTAssertTrue(fields.allSatisfy { Double($0[2])?.isFinite == true && Double($0[3]) != nil && Double($0[4]) != nil }, "\(twoStage)")
    let runs = try FileManager.default.contentsOfDirectory(atPath: whole.appendingPathComponent("runs").path)
    let pretrain = try XCTUnwrap(runs.first { $0.hasPrefix("pretrain-") })
    let snapshots = try FileManager.default.contentsOfDirectory(atPath: whole.appendingPathComponent("runs/\(pretrain)/snapshots").path)
    XCTAssertEqual(snapshots.sorted(), ["step-00000010.safetensors", "step-00000020.safetensors", "step-00000030.safetensors"])
    // DSM only (60 steps) trained on to 120 in a copy of its run, its later snapshots evaluated too.
    let dsm = try XCTUnwrap(runs.first { $0.hasPrefix("dsm-") && !$0.hasSuffix("-continued") })
    XCTAssertTrue(runs.contains("\(dsm)-continued"), "\(runs)")
    let continued = try FileManager.default.contentsOfDirectory(atPath: whole.appendingPathComponent("runs/\(dsm)-continued/snapshots").path)
    XCTAssertEqual(continued.sorted().last, "step-00000120.safetensors")
    let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: whole.appendingPathComponent("results.json"))) as? [String: Any])
    let dsmOnly = try XCTUnwrap((document["variants"] as? [[String: Any]])?.first { $0["name"] as? String == "Single-stage training: DSM only" })
    let dsmSeed = try XCTUnwrap((dsmOnly["per_seed"] as? [[String: Any]])?.first)
    XCTAssertEqual((dsmSeed["curve"] as? [Any])?.count, 6, "DSM only's compared curve ends at its budget")
    XCTAssertEqual((dsmSeed["reference_curve"] as? [Any])?.count, 12, "its reference curve goes on to twice the budget")
    XCTAssertEqual((dsmSeed["steps"] as? Int) ?? ((dsmSeed["stages"] as? [[String: Any]])?.first?["steps"] as? Int), 60,
                   "its own stage, the one compared, trained its budget")
    let speedUps = try XCTUnwrap(document["speed_ups"] as? [[String: Any]])
    XCTAssertEqual(speedUps.map { $0["name"] as? String }, ["two-stage (MaskDM)"])
    let md = try String(contentsOf: whole.appendingPathComponent("report.md"), encoding: .utf8)
    XCTAssertTrue(md.contains("## Speed-up (DSM-equivalent time)") && md.contains("| two-stage (MaskDM) |"), md)
    XCTAssertTrue(md.contains("as fast as DSM only"), md)
    let html = try String(contentsOf: whole.appendingPathComponent("report.html"), encoding: .utf8)
    XCTAssertTrue(html.contains("FID along training") && html.contains("Speed-up (DSM-equivalent time)"), "curves and the speed-up")

    // The same study, killed once two points are on record and a third is being measured.
    let out = dir.appendingPathComponent("killed")
    let args = ["study", "run", planURL.path, "--out", out.path]
    let process = try CLI.start(args)
    let evaluations = out.appendingPathComponent("evaluations")
    func points() -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: evaluations.path)) ?? []).filter { $0.contains("-step-") && $0.hasSuffix(".json") }
    }
    let deadline = Date().addingTimeInterval(300)
    while process.isRunning, Date() < deadline, points().count < 2 { usleep(2000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the study finished before it could be killed")
    let measured = points().count
    XCTAssertGreaterThanOrEqual(measured, 2)

    let second = try CLI.run(args)
    XCTAssertEqual(second.status, 0, second.stderr)
    XCTAssertEqual(second.stderr.components(separatedBy: ", measured earlier").count - 1, measured,
                   "every point measured before the kill is reused, no other: \(second.stderr)")
    XCTAssertEqual(try curves(out), expected, "the killed and rerun study has the uninterrupted one's curves")
  }
}
