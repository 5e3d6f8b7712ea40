import Foundation
import XCTest

/// A data-parallel job agrees before it trains: processes with another seed or another model shape
/// are refused with an error naming the process (another shape once deadlocked the first gradient sum).
final class DistributedAgreementCLITests: XCTestCase {
  /// The quoted shell words of one process of a tiny data-parallel training run into `out` (batch 8, no samples).
  static func train(_ out: URL, steps: Int, _ extra: [String] = []) -> String {
    ([CLI.binary.path, "train", "configs/tiny.yaml", "--set", "train_steps=\(steps)", "--set", "num_samples=0",
      "--set", "batch_size=8", "-o", out.path, "--distributed"] + extra).map { "'\($0)'" }.joined(separator: " ")
  }

  /// Launches two processes, process 1 running the shell command `rank1` and process 0 `train`, and
  /// returns their output and the seconds the job took (the launcher stops it after `timeout` seconds).
  func launch(rank1: String, train: String, timeout: Int) throws -> (CLI.Output, Double) {
    let started = Date()
    let r = try CLI.run(["launch", "-n", "2", "--timeout", "\(timeout)", "--", "/bin/sh", "-c", "if [ \"$MLX_RANK\" = 1 ]; then \(rank1); else exec \(train); fi"],
                        deadline: Double(timeout + 30))
    return (r, Date().timeIntervalSince(started))
  }

  func launchPair(_ perRank: String, _ out: URL) throws -> CLI.Output {
    let train = Self.train(out, steps: 2)
    return try CLI.run(["launch", "-n", "2", "--timeout", "100", "--", "/bin/sh", "-c", "exec \(train) \(perRank)"], deadline: 150)
  }

  func testProcessesWithAnotherSeedOrShapeAreRefusedByName() throws {
    let dir = CLI.temporaryDirectory("dp-agree")
    defer { try? FileManager.default.removeItem(at: dir) }
    let seeds = try launchPair("--set seed=$((7 + MLX_RANK))", dir.appendingPathComponent("seeds"))
    XCTAssertNotEqual(seeds.status, 0)
    XCTAssertTrue(seeds.stderr.contains("process 1 of 2 does not agree with process 0: its seed is 8, process 0's is 7"), seeds.stderr)
    let shapes = try launchPair("--set network.encoder_depth=$((3 + MLX_RANK))", dir.appendingPathComponent("shapes"))
    XCTAssertNotEqual(shapes.status, 0)
    XCTAssertTrue(shapes.stderr.contains("process 1 of 2 does not agree with process 0: its resolved configuration differs"), shapes.stderr)
    XCTAssertFalse(shapes.stderr.contains("timed out"), "refused, not left to the timeout: \(shapes.stderr)")
  }

  func testAProcessThatNeverJoinsIsNamedAfterTheJoinTimeout() throws {
    let dir = CLI.temporaryDirectory("dp-join")
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = Self.train(dir, steps: 2, ["--join-timeout", "3"])
    // Process 1 never starts maskdm (as when its node failed, or its command was wrong).
    let (r, seconds) = try launch(rank1: "exec sleep 30", train: train, timeout: 60)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("process 0 waited 3 s for the other processes of the distributed job to join"), r.stderr)
    XCTAssertTrue(r.stderr.contains("not listening: process 1 (127.0.0.1:"), r.stderr)
    XCTAssertLessThan(seconds, 30, "left at the join timeout, not the launcher's")
  }

  /// A process that stops in the middle of training (a hung or lost node) leaves the others waiting in
  /// their next gradient sum; they leave after --collective-timeout, naming the wait and the process.
  func testAProcessThatStopsMidTrainingIsNamedAfterTheCollectiveTimeout() throws {
    let dir = CLI.temporaryDirectory("dp-stall")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let run = dir.appendingPathComponent("run"), pidFile = dir.appendingPathComponent("rank1.pid")
    let train = Self.train(run, steps: 1_000_000, ["--set", "log_every=1", "--collective-timeout", "3"])
    // Process 1 trains in the background of its shell (without the launcher's watchdog, whose parent
    // check the shell would fail), and is stopped once the job has logged a step. Neither it nor the
    // shell's last command writes to the launcher's pipes, so once the launcher has stopped the job
    // nothing keeps them open (the test's reader waits for their end).
    let rank1 = "MASKDM_LAUNCHER_PID= \(train) >'\(dir.path)/rank1.log' 2>&1 & echo $! > '\(pidFile.path)'; "
      + "while ! grep -q '\"step\"' '\(run.path)/metrics.jsonl' 2>/dev/null; do sleep 0.1; done; kill -STOP $!; exec sleep 100 >/dev/null 2>&1"
    defer {
      if let text = try? String(contentsOf: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
        kill(pid, SIGKILL)
      }
    }
    let (r, seconds) = try launch(rank1: rank1, train: train, timeout: 120)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("process 0 of 2 waited 3 s in the gradient sum of step "), r.stderr)
    XCTAssertTrue(r.stderr.contains("process 1 did not take part"), r.stderr)
    XCTAssertLessThan(seconds, 100, "left at the collective timeout, not the launcher's")
  }
}
