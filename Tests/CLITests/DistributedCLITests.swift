import Foundation
import XCTest

/// Data-parallel training as a user runs it: `maskdm launch -n 2 -- maskdm train … --distributed`
/// on loopback must give the weights of one process with the whole batch.
final class DistributedCLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"
  let common = ["--set", "train_steps=10", "--set", "batch_size=16", "--set", "num_samples=0", "--set", "log_every=5",
                "--set", "save_and_sample_every=10"]

  func testTwoProcessesWithHalfBatchesMatchOneProcess() throws {
    let single = CLI.temporaryDirectory("dp-single"), pair = CLI.temporaryDirectory("dp-pair"), start = CLI.temporaryDirectory("dp-start")
    defer { [single, pair, start].forEach { try? FileManager.default.removeItem(at: $0) } }

    let one = try CLI.run(["train", tiny] + common + ["-o", single.path])
    XCTAssertEqual(one.status, 0, one.stderr)
    let two = try runBounded(["launch", "-n", "2", "--timeout", "240", "--", "maskdm", "train", tiny] + common
      + ["-o", pair.path, "--distributed"], seconds: 300)
    XCTAssertEqual(two.status, 0, two.stderr)
    XCTAssertTrue(two.stdout.contains("x 2 processes"), two.stdout)
    let initial = try CLI.run(["train", tiny] + common.map { $0 == "train_steps=10" ? "train_steps=0" : $0 } + ["-o", start.path])
    XCTAssertEqual(initial.status, 0, initial.stderr)

    // Training must have moved the weights far more than the tolerance for the comparison to mean
    // anything. The two runs differ only in summation order (gradients summed over 16 rows, or over 8
    // and then across processes); Adam turns such rounding into differences of up to ~1e-5 on weights
    // whose gradient is near 0, while a wrong shard (other images, noise or masks on one rank) changes
    // the trajectory by about as much as training moved it. The bound is 1% of that movement.
    let w0 = try readSafetensors(start.appendingPathComponent("latest/model.safetensors"))
    let w10 = try readSafetensors(single.appendingPathComponent("latest/model.safetensors"))
    let moved = w0.map { name, x in zip(x, w10[name]!).map { abs(Double($0) - Double($1)) }.max() ?? 0 }.max() ?? 0
    XCTAssertGreaterThan(moved, 1e-3)
    var worst = 0.0
    for file in ["model", "ema", "optimizer"] {
      let a = try readSafetensors(single.appendingPathComponent("latest/\(file).safetensors"))
      let b = try readSafetensors(pair.appendingPathComponent("latest/\(file).safetensors"))
      XCTAssertEqual(Set(a.keys), Set(b.keys))
      for (name, x) in a {
        let y = try XCTUnwrap(b[name])
        let diff = zip(x, y).map { abs(Double($0) - Double($1)) }.max() ?? 0
        worst = max(worst, diff)
        XCTAssertLessThan(diff, moved / 100, "\(file) \(name) differs between 1 x 16 and 2 x 8")
      }
    }
    // The logged losses (the mean over the global batch) agree to rounding.
    let losses = { (dir: URL) throws -> [Double] in
      try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        .filter { $0["event"] as? String == "step" }.compactMap { $0["loss"] as? Double }
    }
    let (l1, l2) = (try losses(single), try losses(pair))
    XCTAssertEqual(l1.count, 2)
    XCTAssertEqual(l1.count, l2.count)
    for (a, b) in zip(l1, l2) { XCTAssertEqual(a, b, accuracy: 1e-5 * abs(a), "logged losses differ") }

    // Rank 0 alone writes the log: one line per logged step, not one per process.
    let metrics = try String(contentsOf: pair.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    XCTAssertEqual(metrics.split(separator: "\n").filter { $0.contains("\"event\":\"step\"") }.count, 2, metrics)
    let rate = { (dir: URL) -> Double in
      let s = try? JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("summary.json"))) as? [String: Any]
      return (s?["images_per_second"] ?? s?["imagesPerSecond"]) as? Double ?? .nan
    }
    print(String(format: "data-parallel equivalence: max |2x8 - 1x16| = %.2e (weights moved %.2e), losses %@ vs %@; 1 process %.1f img/s, 2 processes %.1f img/s",
                 worst, moved, "\(l1)", "\(l2)", rate(single), rate(pair)))
  }

  func testDistributedWithoutALauncherSaysHowToLaunch() throws {
    let dir = CLI.temporaryDirectory("dp-nolauncher")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try CLI.run(["train", tiny, "--distributed", "-o", dir.path])
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("maskdm launch -n 2"), r.stderr)
  }

  func testBatchThatDoesNotSplitIsRefused() throws {
    let dir = CLI.temporaryDirectory("dp-odd")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try runBounded(["launch", "-n", "2", "--timeout", "120", "--", "maskdm", "train", tiny, "--set", "batch_size=15",
                            "-o", dir.path, "--distributed"], seconds: 180)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("divisible by the number of processes"), r.stderr)
  }

  func testRanksStartingFromDifferentStepsAllStop() throws {
    // Three ranks with a run directory each (not shared: the mistake the check is for). Rank 0's holds
    // a checkpoint at step 4, rank 1's is empty (step 0), rank 2's holds one at step 8 (with rank 0's
    // config.yaml, so that only the steps differ). The steps sum to rank 0's step times three: that
    // must not let rank 0 go on alone into the first collective; every rank has to stop with the error.
    let base = CLI.temporaryDirectory("dp-steps")
    defer { try? FileManager.default.removeItem(at: base) }
    let settings = ["--set", "batch_size=15", "--set", "num_samples=0", "--set", "log_every=4", "--set", "save_and_sample_every=4"]
    let dirs = (0..<3).map { base.appendingPathComponent("rank\($0)") }
    for (rank, steps) in [(0, 4), (2, 8)] {
      let r = try CLI.run(["train", tiny, "--set", "train_steps=\(steps)", "-o", dirs[rank].path] + settings)
      XCTAssertEqual(r.status, 0, r.stderr)
    }
    let config = try Data(contentsOf: dirs[0].appendingPathComponent("config.yaml"))
    try config.write(to: dirs[2].appendingPathComponent("config.yaml"))
    // Each rank's status is handed to the launcher 3 s late, so that the launcher (which stops the
    // others at the first failure) cannot stop rank 0 before it has shown whether it went on; the
    // rank's parent is then bash, so its launcher watchdog is switched off.
    // train_steps 8: below no rank's step (a rank asked to train back is refused on its own, first).
    let script = "MASKDM_LAUNCHER_PID= \"$0\" train \"$1\" --set train_steps=8 \(settings.joined(separator: " ")) -o \"$2/rank$MLX_RANK\" " +
      "--resume --distributed; status=$?; sleep 3; exit $status"
    let r = try runBounded(["launch", "-n", "3", "--timeout", "120", "--", "bash", "-c", script, CLI.binary.path, tiny, base.path],
                           seconds: 180)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("start from different steps"), r.stderr)
    // Rank 0 (the one that would report progress) must not go on to train. Which ranks get to print
    // the error varies: a rank that leaves first can break its peers' last collective on the ring.
    XCTAssertFalse((r.stdout + r.stderr).contains("resuming rank0"), r.stdout + r.stderr)
  }

  func testStudyRunsDataParallelWithFailuresRecorded() throws {
    let dir = CLI.temporaryDirectory("dp-study")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let planURL = dir.appendingPathComponent("plan.yaml")
    try StudyCLITests.plan.write(to: planURL, atomically: true, encoding: .utf8)
    let out = dir.appendingPathComponent("out")
    let r = try runBounded(["launch", "-n", "2", "--timeout", "400", "--", "maskdm", "study", "run", planURL.path,
                            "--out", out.path, "--distributed"], seconds: 480)
    // The variant whose data is missing fails on both ranks (rank 0 finds out first) and is recorded.
    XCTAssertEqual(r.status, 3, r.stderr)
    let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json"))) as? [String: Any])
    let results = (document["variants"] as? [[String: Any]] ?? []).flatMap { $0["per_seed"] as? [[String: Any]] ?? [] }
    XCTAssertEqual(results.count, 3)
    let finished = results.filter { $0["status"] as? String == "finished" }
    XCTAssertEqual(finished.count, 2, "\(results)")
    for v in finished { XCTAssertTrue((v["fid"] as? Double)?.isFinite == true, "\(v)") }
    let failed = try XCTUnwrap(results.first { $0["status"] as? String == "failed" })
    XCTAssertTrue((failed["error"] as? String ?? "").contains("/nonexistent/maskdm-study-images"), "\(failed)")
    XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("report.html").path))
  }

  func testProcessesLeaveWhenTheLauncherIsKilled() throws {
    let dir = CLI.temporaryDirectory("dp-orphans")
    defer { try? FileManager.default.removeItem(at: dir) }
    let launcher = try CLI.start(["launch", "-n", "2", "--timeout", "300", "--", "maskdm", "train", tiny, "--set", "train_steps=1000000",
                                  "--set", "num_samples=0", "--set", "log_every=1", "-o", dir.path, "--distributed"])
    var ranks: [Int32] = []
    defer { for pid in ranks where ProcessTree.isAlive(pid) { kill(pid, SIGKILL) } }
    let metrics = dir.appendingPathComponent("metrics.jsonl")
    let deadline = Date().addingTimeInterval(120)
    while launcher.isRunning, Date() < deadline, !((try? String(contentsOf: metrics, encoding: .utf8))?.contains("\"step\"") ?? false) {
      usleep(20_000)
    }
    ranks = ProcessTree.children(of: launcher.processIdentifier)
    XCTAssertEqual(ranks.count, 2, "the launcher runs two training processes")
    kill(launcher.processIdentifier, SIGKILL)
    launcher.waitUntilExit()
    try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("maskdm-hostfile-\(launcher.processIdentifier).json"))
    let gone = Date().addingTimeInterval(20)
    while ranks.contains(where: ProcessTree.isAlive), Date() < gone { usleep(50_000) }
    XCTAssertFalse(ranks.contains(where: ProcessTree.isAlive), "processes of a killed launcher must leave by themselves")
    if !ranks.contains(where: ProcessTree.isAlive) {
      let stderr = String(decoding: (launcher.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      XCTAssertTrue(stderr.contains("is gone; leaving the distributed job"), stderr)
    }
  }

  func testKilledDataParallelRunResumesBitIdentically() throws {
    let args = ["--set", "train_steps=60", "--set", "save_and_sample_every=10", "--set", "num_samples=0", "--set", "log_every=10",
                "--distributed"]
    let straight = CLI.temporaryDirectory("dp-straight"), killed = CLI.temporaryDirectory("dp-killed")
    defer { [straight, killed].forEach { try? FileManager.default.removeItem(at: $0) } }
    let a = try runBounded(["launch", "-n", "2", "--timeout", "240", "--", "maskdm", "train", tiny, "-o", straight.path] + args, seconds: 300)
    XCTAssertEqual(a.status, 0, a.stderr)

    let launcher = try CLI.start(["launch", "-n", "2", "--timeout", "240", "--", "maskdm", "train", tiny, "-o", killed.path] + args)
    let state = killed.appendingPathComponent("latest/state.json")
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: state.path), launcher.isRunning, Date() < deadline { usleep(2000) }
    let ranks = ProcessTree.children(of: launcher.processIdentifier)
    defer { for pid in ranks where ProcessTree.isAlive(pid) { kill(pid, SIGKILL) } }
    kill(launcher.processIdentifier, SIGKILL)
    launcher.waitUntilExit()
    try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("maskdm-hostfile-\(launcher.processIdentifier).json"))
    let gone = Date().addingTimeInterval(20)
    while ranks.contains(where: ProcessTree.isAlive), Date() < gone { usleep(20_000) }
    let stepAtKill = try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as! [String: Any]
    XCTAssertLessThan(stepAtKill["step"] as! Int, 60, "the run finished before it could be killed")

    let b = try runBounded(["launch", "-n", "2", "--timeout", "240", "--", "maskdm", "train", tiny, "-o", killed.path, "--resume"] + args,
                           seconds: 300)
    XCTAssertEqual(b.status, 0, b.stderr)
    for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
      let x = try Data(contentsOf: straight.appendingPathComponent("latest/\(file)"))
      let y = try Data(contentsOf: killed.appendingPathComponent("latest/\(file)"))
      XCTAssertEqual(x, y, "\(file) differs between the uninterrupted and the resumed data-parallel run")
    }
  }

  /// Runs the CLI with a hard deadline (see `CLI.run`): the launcher stops its processes on SIGTERM,
  /// and they also leave by themselves when the launcher is gone.
  private func runBounded(_ args: [String], seconds: Double, file: StaticString = #filePath, line: UInt = #line)
    throws -> CLI.Output
  {
    try CLI.run(args, deadline: seconds, file: file, line: line)
  }
}

/// The float32 tensors of a safetensors file, by name (the format: 8-byte header length, JSON
/// header with dtype/shape/data_offsets, then the data).
func readSafetensors(_ url: URL) throws -> [String: [Float]] {
  let data = try Data(contentsOf: url)
  let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
  let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
  var out: [String: [Float]] = [:]
  for (name, value) in header where name != "__metadata__" {
    let entry = value as! [String: Any]
    guard entry["dtype"] as? String == "F32" else { continue }
    let offsets = entry["data_offsets"] as! [Int]
    let bytes = data.subdata(in: (8 + n + offsets[0])..<(8 + n + offsets[1]))
    out[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
  }
  return out
}
