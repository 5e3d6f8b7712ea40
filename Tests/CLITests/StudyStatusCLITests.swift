import Foundation
import XCTest

/// `maskdm study status` on a study that runs, is killed midway and finishes; and the study's
/// TensorBoard files as TensorBoard's reader loads them.
final class StudyStatusCLITests: XCTestCase {
  /// Two variants (baseline, no position embedding) × two seeds, two stages each.
  static let plan = """
    name: statustiny
    compare: steps
    \(StudyCLITests.tinyBase(seed: 5, checkpointEvery: 10))
    stages:
      - {name: pretrain, steps: 6, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 80}
    evaluation: {samples: 6, sampling_steps: 2, batch_size: 6, grid: 4, reference: {count: 6}, repeats: 2}
    ablations:
      - {name: Positional information, part: position embedding, action: REMOVE}
    """

  struct Entry: Equatable, Hashable { var slug: String; var seed: Int }

  func status(_ out: URL) throws -> (entries: [[String: Any]], document: [String: Any]) {
    let r = try CLI.run(["study", "status", out.path, "--json"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    return (document["entries"] as? [[String: Any]] ?? [], document)
  }

  /// The (variant, seed) pairs with a result on record, finished or failed.
  func recorded(_ out: URL) -> Set<Entry> {
    let results = out.appendingPathComponent("results")
    var found = Set<Entry>()
    for slug in (try? FileManager.default.contentsOfDirectory(atPath: results.path)) ?? [] {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: results.appendingPathComponent(slug).path)) ?? [] where name.hasSuffix(".json") {
        if let seed = Int(name.dropFirst(5).dropLast(5)) { found.insert(Entry(slug: slug, seed: seed)) }
      }
    }
    return found
  }

  func testStatusOfAStudyRunningKilledAndFinishedAndItsTensorBoardRuns() throws {
    let dir = CLI.temporaryDirectory("study-status")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let planURL = dir.appendingPathComponent("plan.yaml")
    try Self.plan.write(to: planURL, atomically: true, encoding: .utf8)
    let out = dir.appendingPathComponent("out")
    let args = ["study", "run", planURL.path, "--out", out.path]

    // While it runs: once a first (variant, seed) is done, a later one is seen training.
    let process = try CLI.start(args)
    let deadline = Date().addingTimeInterval(300)
    while process.isRunning, Date() < deadline, recorded(out).isEmpty { usleep(20_000) }
    var running: [String: Any]? = nil
    while process.isRunning, Date() < deadline, running == nil {
      running = try status(out).entries.first { $0["state"] as? String == "running" && ($0["step"] as? Int ?? 0) > 0 }
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the study finished before it could be killed")
    let seen = try XCTUnwrap(running, "no run was seen training")
    XCTAssertEqual(seen["total_steps"] as? Int, seen["stage"] as? String == "pretrain" ? 6 : 80)
    XCTAssertNotNil(seen["eta_seconds"] as? Double, "\(seen)")

    // Killed: exactly the pairs with a result are done, the others unfinished, none running.
    let finished = recorded(out)
    let (entries, document) = try status(out)
    XCTAssertEqual(entries.count, 4, "2 variants × 2 seeds: \(entries)")
    XCTAssertEqual(Set(entries.map { Entry(slug: $0["slug"] as? String ?? "", seed: $0["seed"] as? Int ?? -1) }).count, 4)
    let done = Set(entries.filter { $0["state"] as? String == "done" }.map { Entry(slug: $0["slug"] as? String ?? "", seed: $0["seed"] as? Int ?? -1) })
    XCTAssertEqual(done, finished)
    XCTAssertTrue(1..<4 ~= done.count, "killed midway: \(done)")
    XCTAssertTrue(entries.filter { $0["state"] as? String != "done" }.allSatisfy { $0["state"] as? String == "pending" }, "\(entries)")
    XCTAssertTrue(entries.contains { ($0["detail"] as? String ?? "").contains("stopped at step") }, "the interrupted stage: \(entries)")
    XCTAssertEqual(document["repeats"] as? Int, 2)
    XCTAssertNotNil(document["training_seconds_left"] as? Double, "rates from the runs of this study: \(document)")
    // A study process that holds a variant's lock while none of its stages trains (it evaluates along
    // training, or is about to resume) is running, not pending.
    let waiting = try XCTUnwrap(entries.first { $0["state"] as? String == "pending" })
    let active = out.appendingPathComponent("active/\(waiting["slug"] as? String ?? "")-seed-\(waiting["seed"] as? Int ?? -1)")
    try FileManager.default.createDirectory(at: active, withIntermediateDirectories: true)
    let fd = open(active.appendingPathComponent(".lock").path, O_CREAT | O_RDWR, 0o644)
    XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
    let held = try status(out).entries.first { $0["slug"] as? String == waiting["slug"] as? String && $0["seed"] as? Int == waiting["seed"] as? Int }
    XCTAssertEqual(held?["state"] as? String, "running", "\(held ?? [:])")
    close(fd)
    let table = try CLI.run(["study", "status", out.path])
    XCTAssertTrue(table.stdout.contains("\(done.count) done, 0 running, 0 failed, \(4 - done.count) pending"), table.stdout)
    XCTAssertTrue(table.stdout.contains("estimated time left: "), table.stdout)

    // Finished: every pair done, nothing left.
    let second = try CLI.run(args)
    XCTAssertEqual(second.status, 0, second.stderr)
    let (after, final) = try status(out)
    XCTAssertEqual(after.map { $0["state"] as? String }, Array(repeating: "done", count: 4))
    XCTAssertEqual(final["seconds_left"] as? Double, 0)

    // TensorBoard: one run per variant and seed with the losses of both stages in sequence and the final metrics.
    let results = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json"))) as? [String: Any])
    let perSeed = (results["variants"] as? [[String: Any]] ?? []).flatMap { ($0["per_seed"] as? [[String: Any]]) ?? [] }
    XCTAssertEqual(perSeed.count, 4)
    for r in perSeed {
      let slug = try XCTUnwrap(r["slug"] as? String), seed = try XCTUnwrap(r["seed"] as? Int)
      let board = try TensorBoardReader.load(out.appendingPathComponent("tb/\(slug)/seed-\(seed)"))
      let stages = try XCTUnwrap(r["stages"] as? [[String: Any]])
      let curves = stages.map { ($0["loss_curve"] as? [[Double]]) ?? [] }
      let expected = curves[0].map { Int($0[0]) } + curves[1].map { 6 + Int($0[0]) }
      XCTAssertEqual(board.scalars["train/loss"]?.map(\.step), expected, "\(slug) seed \(seed)")
      for (e, l) in zip(board.scalars["train/loss"] ?? [], curves[0] + curves[1]) {
        XCTAssertEqual(e.value, l[1], accuracy: l[1] * 1e-6, "\(slug) seed \(seed) step \(e.step)")
      }
      let fid = try XCTUnwrap(r["fid"] as? Double)
      XCTAssertEqual(board.scalars["final/fid"]?.map(\.step), [86])
      XCTAssertEqual(board.scalars["final/fid"]?.first?.value ?? .nan, Double(Float(fid)), accuracy: 1e-9 + fid * 1e-7)
      XCTAssertEqual(board.scalars["eval/fid"]?.map(\.step), [86])
      XCTAssertEqual(board.scalars["final/training_seconds"]?.first?.value ?? .nan,
                     Double(Float(r["training_seconds"] as? Double ?? .nan)), accuracy: 1e-3)
      // The fine-tuning run's own log has its evaluation at its last step.
      let run = out.appendingPathComponent(try XCTUnwrap(stages[1]["run_directory"] as? String))
      let runBoard = try TensorBoardReader.load(run.appendingPathComponent("tb"))
      XCTAssertEqual(runBoard.scalars["eval/fid"]?.map(\.step), [80])
      XCTAssertEqual(runBoard.scalars["eval/fid"]?.first?.value ?? .nan, Double(Float(fid)), accuracy: 1e-9 + fid * 1e-7)
      XCTAssertEqual(runBoard.scalars["train/loss"]?.last?.step, 80)
    }
  }
}
