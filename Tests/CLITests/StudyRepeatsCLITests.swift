import Foundation
import XCTest

/// `maskdm study run` with repeats and time budgets as a user runs it: the budgets are calibrated once
/// into steps and kept on record, a study killed during its repeats finishes with the same results as
/// an uninterrupted one (bit for bit), a rerun changes nothing, more repeats reuse the finished seeds.
final class StudyRepeatsCLITests: XCTestCase {
  static let plan = """
    name: repeats
    compare: time
    \(StudyCLITests.tinyBase(seed: 5, checkpointEvery: 20))
    stages:
      - {name: pretrain, seconds: 0.4, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, seconds: 0.4}
    evaluation: {samples: 6, sampling_steps: 2, batch_size: 6, grid: 4, reference: {count: 6}, repeats: 2}
    ablations:
      - {name: Single-stage training, part: schedule, replacements: [dsm_only]}
    """

  /// Every weights file under `runs/` (model, EMA, optimizer state of each checkpoint), by relative path.
  func runFiles(_ study: URL) throws -> [String: Data] {
    let runs = study.appendingPathComponent("runs")
    var out: [String: Data] = [:]
    let walker = FileManager.default.enumerator(at: runs, includingPropertiesForKeys: [.isRegularFileKey])!
    for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
      let rel = String(url.path.dropFirst(runs.path.count))
      if url.pathExtension == "safetensors" { out[rel] = try Data(contentsOf: url) }
    }
    return out
  }

  /// FID and steps of every (variant, seed) in results.json.
  func perSeed(_ study: URL) throws -> [String: [Double]] {
    let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: study.appendingPathComponent("results.json"))) as? [String: Any])
    var out: [String: [Double]] = [:]
    for v in doc["variants"] as? [[String: Any]] ?? [] {
      for r in v["per_seed"] as? [[String: Any]] ?? [] {
        let steps = (r["stages"] as? [[String: Any]] ?? []).map { Double($0["steps"] as? Int ?? -1) }
        out["\(r["slug"] ?? "")/\(r["seed"] ?? "")"] = [r["fid"] as? Double ?? .nan] + steps
      }
    }
    return out
  }

  func testKilledRepeatsFinishBitForBitOnTheCalibratedSteps() throws {
    let dir = CLI.temporaryDirectory("repeats")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let plan = dir.appendingPathComponent("plan.yaml")
    try Self.plan.write(to: plan, atomically: true, encoding: .utf8)
    let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")

    // Without a calibration on record an array job cannot start: its tasks would measure different steps.
    let slurm = try CLI.run(["study", "run", plan.path, "--out", a.path, "--emit-slurm"])
    XCTAssertNotEqual(slurm.status, 0)
    XCTAssertTrue(slurm.stderr.contains("--calibrate-only"), slurm.stderr)

    let calibrated = try CLI.run(["study", "run", plan.path, "--out", a.path, "--calibrate-only"])
    XCTAssertEqual(calibrated.status, 0, calibrated.stderr)
    XCTAssertTrue(calibrated.stderr.contains("calibrating the time budget of 16px p4 c3 d32x3 h2 mlp4 batch 8, patch 0.75"), calibrated.stderr)
    XCTAssertTrue(calibrated.stdout.contains("calibration:\n  measured_on:") && calibrated.stdout.contains("steps_per_second:"), calibrated.stdout)
    let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: a.appendingPathComponent("calibration.json"))) as? [String: Any])
    XCTAssertEqual((record["entries"] as? [String: Any])?.count, 2, "masked and unmasked settings: \(record)")
    try FileManager.default.createDirectory(at: b, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: a.appendingPathComponent("calibration.json"), to: b.appendingPathComponent("calibration.json"))

    let whole = try CLI.run(["study", "run", plan.path, "--out", a.path])
    XCTAssertEqual(whole.status, 0, whole.stderr)
    XCTAssertFalse(whole.stderr.contains("calibrating"), "the calibration on record is used: \(whole.stderr)")
    XCTAssertTrue(whole.stdout.contains("* Single-stage training, DSM only against two-stage (MaskDM): KID ×10³")
                    && whole.stdout.contains("(2 seeds)"), "the answer first: \(whole.stdout)")
    let expected = try perSeed(a)
    XCTAssertEqual(expected.count, 4, "two variants, two seeds: \(expected)")
    XCTAssertEqual(Set(expected.keys.map { $0.split(separator: "/").last! }), ["5", "6"])

    // The same study, killed once the second seed has begun, then run again.
    let process = try CLI.start(["study", "run", plan.path, "--out", b.path])
    let deadline = Date().addingTimeInterval(300)
    func secondSeedStarted() -> Bool {
      let results = b.appendingPathComponent("results")
      let dirs = (try? FileManager.default.contentsOfDirectory(atPath: results.path)) ?? []
      return dirs.contains { FileManager.default.fileExists(atPath: results.appendingPathComponent("\($0)/seed-6.json").path) }
    }
    while process.isRunning, Date() < deadline, !secondSeedStarted() { usleep(2000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the study finished before it could be killed")
    let resumed = try CLI.run(["study", "run", plan.path, "--out", b.path])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("seed 5: finished earlier"), resumed.stderr)
    XCTAssertEqual(try perSeed(b), expected, "the killed and resumed study has the uninterrupted one's results")
    let (weightsA, weightsB) = (try runFiles(a), try runFiles(b))
    XCTAssertGreaterThanOrEqual(weightsA.count, 4 * 3 * 2, "every stage of every seed kept checkpoints")
    XCTAssertEqual(Set(weightsB.keys), Set(weightsA.keys))
    XCTAssertEqual(weightsA.keys.filter { weightsA[$0] != weightsB[$0] }.sorted(), [], "the same weights, bit for bit")

    // A rerun of the finished study changes nothing; two more seeds reuse the two finished ones.
    let before = try Data(contentsOf: a.appendingPathComponent("results.json"))
    let again = try CLI.run(["study", "run", plan.path, "--out", a.path])
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertFalse(again.stderr.contains(" starts"), again.stderr)
    XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent("results.json")), before, "results.json unchanged")
    let more = try CLI.run(["study", "run", plan.path, "--out", a.path, "--repeats", "3"])
    XCTAssertEqual(more.status, 0, more.stderr)
    XCTAssertEqual(more.stderr.components(separatedBy: "finished earlier").count - 1, 4, more.stderr)
    XCTAssertTrue(more.stderr.contains("seed 7:"), more.stderr)
    XCTAssertTrue(more.stdout.contains("(3 seeds)"), more.stdout)
    let md = try String(contentsOf: a.appendingPathComponent("report.md"), encoding: .utf8)
    XCTAssertTrue(md.contains("Training seeds: 5, 6, 7 (3 per variant)"), md)
    XCTAssertTrue(md.contains("calibration"), md)

    // Until decided: a sequential design from the 3 seeds on record, looking every 2 more, at most 5 (before
    // --recalibrate below, which changes the steps and so every key). The 3 finished seeds are reused;
    // seeds 8 and 9 run only when the first look leaves a comparison undecided.
    let sequential = try CLI.run(["study", "run", plan.path, "--out", a.path, "--repeats", "3", "--until-decided", "5"])
    XCTAssertEqual(sequential.status, 0, sequential.stderr)
    XCTAssertEqual(sequential.stderr.components(separatedBy: "finished earlier").count - 1, 6, sequential.stderr)
    XCTAssertTrue(sequential.stdout.contains("Seeds: group-sequential: looks at 3, 5 seeds"), sequential.stdout)
    let firstLookDecided = sequential.stdout.contains("stopped at 3 seeds, every comparison decided")
    XCTAssertEqual(sequential.stderr.contains("seed 8:"), !firstLookDecided, "a second look only when the first left one undecided: \(sequential.stdout)")
    XCTAssertFalse(sequential.stderr.contains("seed 10:"), "never past the design's maximum")
    let remeasured = try CLI.run(["study", "run", plan.path, "--out", a.path, "--calibrate-only", "--recalibrate"])
    XCTAssertEqual(remeasured.status, 0, remeasured.stderr)
    XCTAssertEqual(remeasured.stderr.components(separatedBy: "calibrating the time budget").count - 1, 2,
                   "--recalibrate measures again what is on record: \(remeasured.stderr)")
  }
}
