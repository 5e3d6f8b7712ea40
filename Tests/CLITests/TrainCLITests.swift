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
    // A setting the checkpoint depends on is refused, named; the learning rate may change (recorded).
    let changed = try CLI.run(["train"] + common + ["--set", "train_steps=80", "--set", "seed=8", "-o", extended.path, "--resume"])
    XCTAssertNotEqual(changed.status, 0)
    XCTAssertTrue(changed.stderr.contains("differs from the one") && changed.stderr.contains("seed 7 -> 8"), changed.stderr)
    let lower = try CLI.run(["train"] + common + ["--set", "train_steps=80", "--set", "lr=5e-4", "-o", extended.path, "--resume"])
    XCTAssertEqual(lower.status, 0, lower.stderr)
    XCTAssertTrue(lower.stderr.contains("resuming at step 60 with lr 0.001 -> 0.0005"), lower.stderr)
    let resumed = metricsRows(extended).filter { $0["event"] as? String == "resumed" }
    XCTAssertEqual(resumed.last?["step"] as? Int, 60)
    XCTAssertEqual((resumed.last?["changed"] as? [String: String])?["lr"], "0.001 -> 0.0005")
    XCTAssertEqual(metricsRows(extended).compactMap { $0["event"] as? String == "step" ? $0["lr"] as? Double : nil }.last, 5e-4)
  }

  /// Item 5 of the robustness issue: 64 bytes flipped in the middle of the newest checkpoint's
  /// model.safetensors; --resume falls back to the intact earlier checkpoint and says so (and ends
  /// with the weights of an uninterrupted run), and with every checkpoint damaged it names the files.
  func testDamagedCheckpointIsDetectedAndPassedOver() throws {
    let common = [tiny, "--set", "num_samples=0", "--set", "save_and_sample_every=20"]
    let straight = CLI.temporaryDirectory("straight60"), damaged = CLI.temporaryDirectory("damaged")
    defer { [straight, damaged].forEach { try? FileManager.default.removeItem(at: $0) } }
    XCTAssertEqual(try CLI.run(["train"] + common + ["--set", "train_steps=60", "-o", straight.path]).status, 0)
    XCTAssertEqual(try CLI.run(["train"] + common + ["--set", "train_steps=40", "-o", damaged.path]).status, 0)
    let newest = damaged.appendingPathComponent("checkpoints/step-00000040")
    try flipBytes(in: newest.appendingPathComponent("model.safetensors"))

    let resumed = try CLI.run(["train"] + common + ["--set", "train_steps=60", "-o", damaged.path, "--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("step-00000040 is damaged: model.safetensors does not match the SHA-256"), resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("resuming from step-00000020 (step 20), the newest intact checkpoint"), resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("kept as checkpoints/damaged-step-00000040"), resumed.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: damaged.appendingPathComponent("checkpoints/damaged-step-00000040/model.safetensors").path))
    for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
      XCTAssertEqual(try Data(contentsOf: straight.appendingPathComponent("latest/\(file)")),
                     try Data(contentsOf: damaged.appendingPathComponent("latest/\(file)")), "\(file) after the fallback")
    }

    // Every checkpoint damaged: an error naming each damaged file, nothing trained, nothing moved.
    for step in [40, 60] { try flipBytes(in: damaged.appendingPathComponent(String(format: "checkpoints/step-%08d/model.safetensors", step))) }
    let refused = try CLI.run(["train"] + common + ["--set", "train_steps=80", "-o", damaged.path, "--resume"])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.stderr.contains("no intact checkpoint is left"), refused.stderr)
    XCTAssertTrue(refused.stderr.contains("step-00000060: model.safetensors does not match")
                    && refused.stderr.contains("step-00000040: model.safetensors does not match"), refused.stderr)
    XCTAssertTrue(refused.stderr.contains("restore the files from a backup"), refused.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: damaged.appendingPathComponent("checkpoints/step-00000060").path))

    // --init-from checks the checksums too: of the run, and of one of its files.
    let other = CLI.temporaryDirectory("init")
    defer { try? FileManager.default.removeItem(at: other) }
    let fromRun = try CLI.run(["train"] + common + ["--init-from", damaged.path, "-o", other.path])
    XCTAssertNotEqual(fromRun.status, 0)
    XCTAssertTrue(fromRun.stderr.contains("no intact checkpoint is left"), fromRun.stderr)
    let fromFile = try CLI.run(["train"] + common + ["--init-from", damaged.appendingPathComponent("latest/model.safetensors").path, "-o", other.path])
    XCTAssertNotEqual(fromFile.status, 0)
    XCTAssertTrue(fromFile.stderr.contains("is damaged: model.safetensors does not match"), fromFile.stderr)
    // So does sampling the raw weights.
    let sampled = try CLI.run(["sample", damaged.path, "--raw", "-n", "1", "--grid", other.appendingPathComponent("g.png").path])
    XCTAssertNotEqual(sampled.status, 0)
    XCTAssertTrue(sampled.stderr.contains("is damaged: model.safetensors does not match"), sampled.stderr)
  }

  /// Item 6: with lr=1e6 the run stops at the divergence; with no checkpoint from before it the
  /// advice is a fresh start (no --resume); with one, `latest` is that checkpoint (sound weights),
  /// the checkpoint trained into the divergence is moved aside, and the advised command is accepted.
  func testDivergenceKeepsACheckpointFromBeforeItAndAdvisesACommandThatWorks() throws {
    let dir = CLI.temporaryDirectory("diverge")
    defer { try? FileManager.default.removeItem(at: dir) }
    let common = [tiny, "--set", "num_samples=0", "--set", "log_every=1"]
    let fresh = try CLI.run(["train"] + common + ["--set", "lr=1e6", "-o", dir.path])
    XCTAssertNotEqual(fresh.status, 0)
    XCTAssertTrue(fresh.stderr.contains("the loss diverged at step") || fresh.stderr.contains("NaN"), fresh.stderr)
    XCTAssertTrue(fresh.stderr.contains("No checkpoint from before the divergence exists"), fresh.stderr)
    let freshAdvice = try XCTUnwrap(fresh.stderr.split(separator: "\n").last { $0.contains("maskdm train") })
    XCTAssertFalse(freshAdvice.contains("--resume"), String(freshAdvice))
    XCTAssertTrue(freshAdvice.contains("--set lr=100000"), String(freshAdvice))

    // 20 sound steps (a checkpoint at 20), then lr=1e6 with a checkpoint every step.
    XCTAssertEqual(try CLI.run(["train"] + common + ["--set", "train_steps=20", "-o", dir.path]).status, 0)
    let diverged = try CLI.run(["train"] + common + ["--set", "lr=1e6", "--set", "save_and_sample_every=1", "-o", dir.path, "--resume"])
    XCTAssertNotEqual(diverged.status, 0)
    XCTAssertTrue(diverged.stderr.contains("The checkpoint of step 20, from before the divergence"), diverged.stderr)
    XCTAssertTrue(diverged.stderr.contains("checkpoints/diverged-step-00000021"), diverged.stderr)
    let state = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("latest/state.json"))) as! [String: Any]
    XCTAssertEqual(state["step"] as? Int, 20)
    XCTAssertLessThan(try maxAbsoluteValue(dir.appendingPathComponent("latest/model.safetensors")), 100, "the kept weights are sound")
    XCTAssertGreaterThan(try maxAbsoluteValue(dir.appendingPathComponent("checkpoints/diverged-step-00000021/model.safetensors")), 1e4)

    // The advised command is accepted (it diverges again at a tenth of 1e6, keeping step 20) ...
    let advice = try XCTUnwrap(diverged.stderr.split(separator: "\n").last { $0.contains("maskdm train") })
    let words = advice.split(separator: " ").map(String.init)
    XCTAssertEqual(Array(words.suffix(1)), ["--resume"], String(advice))
    XCTAssertTrue(words.contains("lr=100000"), String(advice))
    let again = try CLI.run(Array(words.drop { $0 != "train" }))
    XCTAssertFalse(again.stderr.contains("differs"), again.stderr)
    XCTAssertTrue(again.stderr.contains("The checkpoint of step 20"), again.stderr)
    // ... and with a sound learning rate the run goes on from step 20 to the end.
    let sound = try CLI.run(["train"] + common + ["--set", "lr=1e-3", "--set", "save_and_sample_every=1", "-o", dir.path, "--resume"])
    XCTAssertEqual(sound.status, 0, sound.stderr)
    XCTAssertTrue(sound.stderr.contains("at step 20/40"), sound.stderr)
  }

  /// Item 9: a checkpoint that cannot be written (here: the file size limit) says whether an
  /// earlier checkpoint exists instead of claiming one is intact.
  func testAFailedFirstCheckpointDoesNotClaimAnEarlierOne() throws {
    let dir = CLI.temporaryDirectory("full")
    defer { try? FileManager.default.removeItem(at: dir) }
    // 600 KiB: the tiny dataset (192 KiB) fits, model.safetensors (1 MiB) does not; SIGXFSZ ignored,
    // a write past the limit fails with EFBIG as one on a full disk fails with ENOSPC.
    let r = try CLI.run(["-c", "trap '' XFSZ; ulimit -f 600; exec \"$0\" \"$@\"", CLI.binary.path, "train", tiny, "--set", "num_samples=0",
                         "--set", "train_steps=5", "-o", dir.path], executable: URL(fileURLWithPath: "/bin/bash"))
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("could not write the checkpoint of step 5"), r.stderr)
    XCTAssertTrue(r.stderr.contains("no earlier checkpoint exists"), r.stderr)
    XCTAssertFalse(r.stderr.contains("is intact"), r.stderr)
  }

  func metricsRows(_ run: URL) -> [[String: Any]] {
    ((try? String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n")
      .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
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
                            (["bench", "fid", "--repeats", "0"], "--repeats must be positive"),
                            (["bench", "train", "--config", tiny, "--mask-ratio", "0.5"], "--config times that configuration's model and mask")] {
      let result = try CLI.run(args)
      XCTAssertNotEqual(result.status, 0, args.joined(separator: " "))
      XCTAssertTrue(result.stderr.contains(message), result.stderr)
    }
  }

  /// `bench train --config` times a user's configuration: its model, batch and mask.
  func testBenchTrainTimesAConfiguration() throws {
    let r = try CLI.run(["bench", "train", "--config", tiny, "--steps", "2", "--warmup", "1", "--json"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(json["preset"] as? String, URL(fileURLWithPath: tiny).lastPathComponent)
    XCTAssertGreaterThan(json["images_per_second"] as? Double ?? 0, 0, r.stdout)
  }

  /// `bench sample --config` samples a user's configuration's model with its own sampler; the quick
  /// preset is the studies' one-channel model.
  func testBenchSampleTimesAConfigurationAndTheQuickPreset() throws {
    let r = try CLI.run(["bench", "sample", "--config", tiny, "--steps", "2", "--batch-size", "2", "--batches", "1", "--json"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(json["preset"] as? String, URL(fileURLWithPath: tiny).lastPathComponent)
    XCTAssertEqual(json["steps"] as? Int, 2)
    XCTAssertGreaterThan(json["images_per_second"] as? Double ?? 0, 0, r.stdout)
    let quick = try CLI.run(["bench", "train", "--preset", "quick", "--steps", "1", "--warmup", "1", "--json"])
    XCTAssertEqual(quick.status, 0, quick.stderr)
    XCTAssertTrue(quick.stdout.contains("\"batch_size\":64"), quick.stdout)
    let both = try CLI.run(["bench", "sample", "--config", tiny, "--preset", "tiny"])
    XCTAssertNotEqual(both.status, 0)
    XCTAssertTrue(both.stderr.contains("leave out --preset"), both.stderr)
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

/// Inverts 64 bytes in the middle of `url` (damage a checksum must catch).
func flipBytes(in url: URL, count: Int = 64) throws {
  var bytes = [UInt8](try Data(contentsOf: url))
  let middle = bytes.count / 2
  for i in middle..<(middle + count) { bytes[i] ^= 0xFF }
  try Data(bytes).write(to: url)
}

/// The largest |x| over the float32 tensors of a safetensors file (read here without the library).
func maxAbsoluteValue(_ url: URL) throws -> Float {
  let data = try Data(contentsOf: url)
  let headerLength = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
  let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
  var largest: Float = 0
  for case let (_, entry as [String: Any]) in header where entry["dtype"] as? String == "F32" {
    let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
    data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1])).withUnsafeBytes { raw in
      for x in raw.bindMemory(to: Float.self) { largest = max(largest, x.isFinite ? abs(x) : .infinity) }
    }
  }
  return largest
}
