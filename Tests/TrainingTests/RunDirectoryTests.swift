import Engine
import Foundation
import Training
import XCTest

/// Checkpoints are atomic and complete; a second process on a run directory is refused.
final class RunDirectoryTests: XCTestCase {
  func temporaryRun() -> RunDirectory {
    RunDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID())"))
  }

  func testCheckpointRoundTripAndLatest() throws {
    let run = temporaryRun()
    defer { try? FileManager.default.removeItem(at: run.url) }
    try run.create()
    try Engine.run {
      let w = try Tensor([1, 2, 3] as [Float])
      for step in [10, 20, 30] {
        var state = RunProgress()
        state.step = step
        state.loaderEpoch = 2
        state.loaderIndex = 17
        try Checkpoint(model: ["a.weight": try w * Double(step)], ema: ["a.weight": w], adamM: ["a.weight": w],
                       adamV: ["a.weight": w], state: state).save(in: run)
      }
      let latest = try XCTUnwrap(run.latestCheckpoint)
      XCTAssertEqual(latest.lastPathComponent, "step-00000030")
      let c = try Checkpoint.load(run.latest)
      XCTAssertEqual(c.state.step, 30)
      XCTAssertEqual(c.state.loaderIndex, 17)
      XCTAssertEqual(try c.model["a.weight"]!.floats(), [30, 60, 90])
      XCTAssertEqual(try c.adamV["a.weight"]!.floats(), [1, 2, 3])
      // Only the newest two are kept.
      let kept = try FileManager.default.contentsOfDirectory(atPath: run.checkpoints.path).filter { $0.hasPrefix("step-") }
      XCTAssertEqual(kept.sorted(), ["step-00000020", "step-00000030"])
      // Fine-tuning reads the non-EMA weights of a run directory.
      XCTAssertEqual(try initialWeights(from: run.url)["a.weight"]!.floats(), [30, 60, 90])
    }
  }

  func testAFailedWriteKeepsThePreviousCheckpoint() throws {
    let run = temporaryRun()
    defer { try? FileManager.default.removeItem(at: run.url) }
    try run.create()
    try Engine.run {
      var state = RunProgress()
      state.step = 5
      let w = try Tensor([1] as [Float])
      try Checkpoint(model: ["w": w], ema: ["w": w], adamM: ["w": w], adamV: ["w": w], state: state).save(in: run)
      // Make the checkpoints directory read-only: the next save must fail cleanly.
      try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: run.checkpoints.path)
      defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: run.checkpoints.path) }
      state.step = 6
      if getuid() != 0 {  // root ignores permissions; the check is meaningful for other users
        XCTAssertThrowsError(try Checkpoint(model: ["w": w], ema: ["w": w], adamM: ["w": w], adamV: ["w": w], state: state).save(in: run))
      }
      XCTAssertEqual(try Checkpoint.load(run.latest).state.step, 5)
    }
  }

  func testSecondProcessIsRefused() throws {
    let run = temporaryRun()
    defer { try? FileManager.default.removeItem(at: run.url) }
    try run.create()
    let held = try run.lock()
    // flock locks belong to open file descriptions: a second open in this process conflicts as a
    // second process would.
    XCTAssertThrowsError(try run.lock()) { XCTAssertTrue("\($0)".contains("in use by another maskdm process"), "\($0)") }
    held.release()
    XCTAssertNoThrow(try run.lock().release())
  }

  func testDamagedStateIsExplained() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data("{ step: ".utf8).write(to: dir.appendingPathComponent("state.json"))
    XCTAssertThrowsError(try Checkpoint.load(dir)) { XCTAssertTrue("\($0)".contains("damaged"), "\($0)") }
  }
}
