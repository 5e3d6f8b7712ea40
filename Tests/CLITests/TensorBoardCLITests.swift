import Foundation
import XCTest

/// TensorBoard's own reader (the `tensorboard` wheel the bootstrap installs into .deps/tensorboard)
/// on what `maskdm train` writes: every scalar and sample grid at its step with its value, a run killed
/// with SIGKILL mid-write still loads, and a resumed run reads as one uninterrupted run.
final class TensorBoardCLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"

  func testRunCurvesAndGridsLoadInTensorBoardWithTheirStepsAndValues() throws {
    let dir = CLI.temporaryDirectory("tb-run")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try CLI.run(["train", tiny, "--set", "train_steps=24", "--set", "log_every=4", "--set", "save_and_sample_every=12",
                         "--set", "num_samples=4", "-o", dir.path])
    XCTAssertEqual(r.status, 0, r.stderr)
    let board = try TensorBoardReader.load(dir.appendingPathComponent("tb"))
    let rows = metricsRows(dir).filter { $0["event"] as? String == "step" }
    XCTAssertEqual(rows.compactMap { $0["step"] as? Int }, [4, 8, 12, 16, 20, 24])
    try assertScalars(board, equal: rows)
    // images/s is the batch over the mean step time: both come from the same window of steps.
    let seconds = try XCTUnwrap(board.scalars["train/step_seconds"]), rate = try XCTUnwrap(board.scalars["train/images_per_second"])
    XCTAssertEqual(seconds.map(\.step), [4, 8, 12, 16, 20, 24])
    for (s, i) in zip(seconds, rate) { XCTAssertEqual(s.value * i.value, 16, accuracy: 16e-4, "step \(s.step)") }
    // The sample grids: the PNG files of samples/, byte for byte, at their steps.
    let grids = try XCTUnwrap(board.images["samples/grid"])
    XCTAssertEqual(grids.map(\.step), [12, 24])
    for g in grids {
      let png = try Data(contentsOf: dir.appendingPathComponent(String(format: "samples/step-%08d.png", g.step)))
      XCTAssertEqual(g.sha256, sha256Hex(png), "grid of step \(g.step)")
      func be32(_ i: Int) -> Int { png[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
      XCTAssertEqual([g.width, g.height], [be32(16), be32(20)], "the size in the PNG's header")
    }
    XCTAssertEqual(Set(board.scalars.keys), ["train/loss", "train/learning_rate", "train/grad_norm", "train/step_seconds", "train/images_per_second"])

    // --no-tensorboard writes none.
    let off = dir.appendingPathComponent("off")
    let q = try CLI.run(["train", tiny, "--set", "train_steps=2", "--set", "num_samples=0", "--no-tensorboard", "-o", off.path])
    XCTAssertEqual(q.status, 0, q.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: off.appendingPathComponent("tb").path))
  }

  func testKilledRunLoadsAndItsResumptionReadsAsOneRun() throws {
    let dir = CLI.temporaryDirectory("tb-killed")
    defer { try? FileManager.default.removeItem(at: dir) }
    let args = ["train", tiny, "--set", "train_steps=400", "--set", "log_every=1", "--set", "save_and_sample_every=10",
                "--set", "num_samples=0", "-o", dir.path]
    let process = try CLI.start(args)
    // Killed a few steps past its second checkpoint: the steps after it are logged, then trained again.
    let deadline = Date().addingTimeInterval(120)
    while process.isRunning, Date() < deadline, (metricsRows(dir).last { $0["event"] as? String == "step" }?["step"] as? Int ?? 0) < 23 {
      usleep(1000)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the run finished before it could be killed")

    let killed = try TensorBoardReader.load(dir.appendingPathComponent("tb"))
    let loggedBefore = metricsRows(dir).filter { $0["event"] as? String == "step" }.compactMap { $0["step"] as? Int }
    let seen = try XCTUnwrap(killed.scalars["train/loss"]).map(\.step)
    XCTAssertGreaterThanOrEqual(seen.count, 20)
    XCTAssertEqual(seen, Array(1...seen.count), "every step up to the kill, in order")
    XCTAssertTrue(Set(seen).isSubset(of: loggedBefore) && loggedBefore.count - seen.count <= 1,
                  "the events log what metrics.jsonl logged, up to the one being written: \(seen.last!) of \(loggedBefore.last!)")

    // A record torn anywhere costs that record only.
    let file = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tb").path).first)
    let cuts = try TensorBoardReader.truncations(dir.appendingPathComponent("tb/\(file)"))
    XCTAssertEqual(cuts.whole, cuts.records)
    XCTAssertEqual(cuts.loaded.count, 8)
    for (cut, n) in cuts.loaded { XCTAssertEqual(n, cuts.records - 1, "cut \(cut) bytes into the last record") }

    let resumed = try CLI.run(args.map { $0 == "train_steps=400" ? "train_steps=40" : $0 } + ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    let board = try TensorBoardReader.load(dir.appendingPathComponent("tb"))
    XCTAssertEqual(board.files, 2)
    let rows = metricsRows(dir).filter { $0["event"] as? String == "step" }
    XCTAssertEqual(rows.compactMap { $0["step"] as? Int }, Array(1...40))
    try assertScalars(board, equal: rows)
  }

  /// Each logged row of metrics.jsonl is in the events at its step: loss, learning rate, gradient norm
  /// (float32 in the events), and nothing else is there.
  func assertScalars(_ board: TensorBoardReader.Run, equal rows: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) throws {
    for (tag, key) in [("train/loss", "loss"), ("train/learning_rate", "lr"), ("train/grad_norm", "grad_norm")] {
      let events = try XCTUnwrap(board.scalars[tag], tag, file: file, line: line)
      XCTAssertEqual(events.map(\.step), rows.compactMap { $0["step"] as? Int }, tag, file: file, line: line)
      for (e, row) in zip(events, rows) {
        let expected = try XCTUnwrap(row[key] as? Double, "\(key) in \(row)", file: file, line: line)
        XCTAssertEqual(e.value, Double(Float(expected)), accuracy: abs(expected) * 1e-6, "\(tag) at step \(e.step)", file: file, line: line)
      }
    }
  }

  func metricsRows(_ run: URL) -> [[String: Any]] {
    ((try? String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n")
      .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
  }
}

/// Runs scripts/read_tensorboard.py (TensorBoard's EventAccumulator) with the reader in .deps/tensorboard.
enum TensorBoardReader {
  struct Scalar { var step: Int; var value: Double }
  struct Image { var step: Int; var width: Int; var height: Int; var sha256: String }
  struct Run {
    var scalars: [String: [Scalar]]
    var images: [String: [Image]]
    var files: Int
  }

  static func python(_ args: [String]) throws -> Any {
    let deps = CLI.packageRoot.appendingPathComponent(".deps/tensorboard")
    guard FileManager.default.fileExists(atPath: deps.appendingPathComponent("tensorboard").path) else {
      throw TestFailure("TensorBoard's reader is not in \(deps.path): run scripts/bootstrap.sh (make test does)")
    }
    let out = try CLI.run(["python3", "-S", CLI.packageRoot.appendingPathComponent("scripts/read_tensorboard.py").path] + args,
                          environment: ["PYTHONPATH": deps.path], executable: URL(fileURLWithPath: "/usr/bin/env"))
    guard out.status == 0 else { throw TestFailure("read_tensorboard.py failed: \(out.stderr)") }
    return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8))
  }

  /// The scalars and images TensorBoard reads from `directory`.
  static func load(_ directory: URL) throws -> Run {
    let all = try python([directory.path]) as? [String: Any]
    guard let d = all?[directory.path] as? [String: Any] else { throw TestFailure("no result for \(directory.path)") }
    let scalars = (d["scalars"] as? [String: [[Double]]] ?? [:]).mapValues { $0.map { Scalar(step: Int($0[0]), value: $0[1]) } }
    let images = (d["images"] as? [String: [[Any]]] ?? [:]).mapValues {
      $0.map { Image(step: $0[0] as? Int ?? -1, width: $0[1] as? Int ?? 0, height: $0[2] as? Int ?? 0, sha256: $0[3] as? String ?? "") }
    }
    return Run(scalars: scalars, images: images, files: d["files"] as? Int ?? 0)
  }

  /// Events loaded from `file` cut at offsets inside its last record (offset into it -> events loaded).
  static func truncations(_ file: URL) throws -> (records: Int, whole: Int, loaded: [String: Int]) {
    let d = try python(["--truncations", file.path]) as? [String: Any]
    return (d?["records"] as? Int ?? -1, d?["whole"] as? Int ?? -1, d?["loaded"] as? [String: Int] ?? [:])
  }
}

struct TestFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

func sha256Hex(_ data: Data) -> String {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
  let input = Pipe(), output = Pipe()
  p.standardInput = input
  p.standardOutput = output
  try? p.run()
  input.fileHandleForWriting.write(data)
  try? input.fileHandleForWriting.close()
  let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  p.waitUntilExit()
  return String(text.prefix(64))
}
