import Foundation
import XCTest

/// `maskdm train` as a user runs it: resume after SIGKILL, bad input, dry runs.
final class TrainCLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"

  func testKilledRunResumesBitIdentically() throws {
    let common = [tiny, "--set", "train_steps=120", "--set", "save_and_sample_every=20", "--set", "num_samples=0",
                  "--set", "log_every=20"]
    let straight = CLI.temporaryDirectory("straight"), killed = CLI.temporaryDirectory("killed")
    defer { [straight, killed].forEach { try? FileManager.default.removeItem(at: $0) } }

    let a = try CLI.run(["train"] + common + ["-o", straight.path])
    XCTAssertEqual(a.status, 0, a.stderr)

    let process = try CLI.start(["train"] + common + ["-o", killed.path])
    let state = killed.appendingPathComponent("latest/state.json")
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: state.path), process.isRunning, Date() < deadline { usleep(2000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the run finished before it could be killed")
    let stepAtKill = try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as! [String: Any]
    XCTAssertLessThan(stepAtKill["step"] as! Int, 120)

    let b = try CLI.run(["train"] + common + ["-o", killed.path, "--resume"])
    XCTAssertEqual(b.status, 0, b.stderr)
    for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
      let x = try Data(contentsOf: straight.appendingPathComponent("latest/\(file)"))
      let y = try Data(contentsOf: killed.appendingPathComponent("latest/\(file)"))
      XCTAssertEqual(x, y, "\(file) differs between the uninterrupted and the resumed run")
    }
  }

  /// `snapshot_every` keeps the EMA weights of every N-th step and of the last one, never pruned; the
  /// last snapshot holds the tensors of the final checkpoint's EMA weights, byte for byte.
  func testSnapshotsKeepTheEMAWeightsAtTheirSteps() throws {
    let dir = CLI.temporaryDirectory("snapshots")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try CLI.run(["train", tiny, "--set", "snapshot_every=15", "--set", "num_samples=0", "-o", dir.path])
    XCTAssertEqual(r.status, 0, r.stderr)
    let snapshots = dir.appendingPathComponent("snapshots")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: snapshots.path).sorted(),
                   ["step-00000015.safetensors", "step-00000030.safetensors", "step-00000040.safetensors"])
    /// The tensor bytes of a safetensors file (after its 8-byte length and JSON header, which holds the metadata).
    func tensorBytes(_ url: URL) throws -> Data {
      let d = try Data(contentsOf: url)
      let n = d.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
      return d.dropFirst(8 + n)
    }
    XCTAssertEqual(try tensorBytes(snapshots.appendingPathComponent("step-00000040.safetensors")),
                   try tensorBytes(dir.appendingPathComponent("latest/ema.safetensors")))
    XCTAssertNotEqual(try tensorBytes(snapshots.appendingPathComponent("step-00000015.safetensors")),
                      try tensorBytes(dir.appendingPathComponent("latest/ema.safetensors")))
    let metrics = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    XCTAssertEqual(metrics.components(separatedBy: "\"event\":\"snapshot\"").count - 1, 3, metrics)
    let bad = try CLI.run(["train", tiny, "--set", "snapshot_every=0", "--dry-run", "-o", dir.appendingPathComponent("bad").path])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.stderr.contains("snapshot_every must be a positive number of steps"), bad.stderr)
  }

  func testResumeExtendsARunButRefusesOtherChanges() throws {
    // More train_steps (and other logging/saving cadence) on --resume continue the run: 40 steps, then
    // extended to 60, ends with the weights of 60 steps in one go. A changed learning rate is refused.
    let common = [tiny, "--set", "num_samples=0", "--set", "save_and_sample_every=20"]
    let straight = CLI.temporaryDirectory("straight60"), extended = CLI.temporaryDirectory("extended")
    defer { [straight, extended].forEach { try? FileManager.default.removeItem(at: $0) } }
    XCTAssertEqual(try CLI.run(["train"] + common + ["--set", "train_steps=60", "-o", straight.path]).status, 0)
    let first = try CLI.run(["train"] + common + ["--set", "train_steps=40", "-o", extended.path])
    XCTAssertEqual(first.status, 0, first.stderr)
    let more = try CLI.run(["train"] + common + ["--set", "train_steps=60", "--set", "log_every=3", "-o", extended.path, "--resume"])
    XCTAssertEqual(more.status, 0, more.stderr)
    for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
      let x = try Data(contentsOf: straight.appendingPathComponent("latest/\(file)"))
      let y = try Data(contentsOf: extended.appendingPathComponent("latest/\(file)"))
      XCTAssertEqual(x, y, "\(file) differs between 60 steps and 40 extended to 60")
    }
    let changed = try CLI.run(["train"] + common + ["--set", "train_steps=80", "--set", "lr=2e-3", "-o", extended.path, "--resume"])
    XCTAssertNotEqual(changed.status, 0)
    XCTAssertTrue(changed.stderr.contains("differs from the one"), changed.stderr)
  }

  func testNaNLossStopsWithTheLastCheckpointKept() throws {
    let dir = CLI.temporaryDirectory("nan")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try CLI.run(["train", tiny, "--set", "lr=1e30", "--set", "train_steps=60", "--set", "save_and_sample_every=1",
                         "--set", "num_samples=0", "--set", "log_every=1", "-o", dir.path])
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("NaN or infinite at step"), r.stderr)
    XCTAssertTrue(r.stderr.contains("last good checkpoint") || r.stderr.contains("no checkpoint"), r.stderr)
    if FileManager.default.fileExists(atPath: dir.appendingPathComponent("latest/state.json").path) {
      let state = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("latest/state.json"))) as! [String: Any]
      XCTAssertTrue((state["last_loss"] as? Double ?? (state["lastLoss"] as? Double) ?? 0).isFinite)
    }
  }

  func testBadInputGetsClearErrors() throws {
    let dir = CLI.temporaryDirectory("bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    let unknown = try CLI.run(["train", tiny, "--set", "batchsize=3", "-o", dir.path])
    XCTAssertNotEqual(unknown.status, 0)
    XCTAssertTrue(unknown.stderr.contains("did you mean batch_size"), unknown.stderr)
    let missing = try CLI.run(["train", "no/such/config.yaml", "-o", dir.path])
    XCTAssertTrue(missing.stderr.contains("cannot read the config file"), missing.stderr)
    let noData = try CLI.run(["train", tiny, "--set", "dataset.NAME=prepared", "--set", "dataset.PATH=/no/such/dataset", "-o", dir.path])
    XCTAssertNotEqual(noData.status, 0)
    XCTAssertTrue(noData.stderr.contains("/no/such/dataset"), noData.stderr)
  }

  func testBenchmarksRefuseCountsThatMeasureNothing() throws {
    for (args, message) in [(["bench", "train", "--steps", "0", "--json"], "--steps must be at least 1"),
                            (["bench", "train", "--batch-size", "0"], "--batch-size must be positive"),
                            (["bench", "fid", "--repeats", "0"], "--repeats must be positive")] {
      let result = try CLI.run(args)
      XCTAssertNotEqual(result.status, 0, args.joined(separator: " "))
      XCTAssertTrue(result.stderr.contains(message), result.stderr)
    }
  }

  func testDryRunPrintsTheResolvedConfiguration() throws {
    let r = try CLI.run(["train", tiny, "--set", "dataset.MASK_RATIO=0.75", "--dry-run", "-o", "unused"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stdout.contains("MASK_RATIO: 0.75"), r.stdout)
    XCTAssertTrue(r.stdout.contains("encoder_embed_dim: 64"), r.stdout)
  }

  /// Unknown strategies and models are refused before anything runs, naming the choices.
  func testSetRefusesUnknownChoices() throws {
    for (set, expected) in [("loss_type=l3", "l2, l1"), ("objective=pred_eps", "pred_noise, pred_x0, pred_v"),
                            ("network.name=mask_dwt", "does not build")] {
      let r = try CLI.run(["train", tiny, "--set", set, "--dry-run", "-o", "unused"])
      XCTAssertNotEqual(r.status, 0, set)
      XCTAssertTrue(r.stderr.contains(expected), "\(set): \(r.stderr)")
    }
  }
}
