import Datasets
import Engine
import Foundation
import Training
import XCTest
import Yams

/// Checkpoint checksums and the fallback to the newest intact one, what --resume may change, the
/// metrics a resumed run keeps, and the clean-up of staging copies left by killed processes.
final class CheckpointIntegrityTests: XCTestCase {
  func temporaryRun() -> RunDirectory {
    RunDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("integrity-\(UUID())"))
  }

  func save(_ run: RunDirectory, steps: [Int]) throws {
    try Engine.run {
      let w = try Tensor((0..<256).map(Float.init))
      for step in steps {
        var state = RunProgress()
        state.step = step
        try Checkpoint(model: ["w": try w * Double(step)], ema: ["w": w], adamM: ["w": w], adamV: ["w": w], state: state).save(in: run)
      }
    }
  }

  func testChecksumsAreRecordedCheckedAndDamageFallsBack() throws {
    let run = temporaryRun()
    defer { try? FileManager.default.removeItem(at: run.url) }
    try run.create()
    try save(run, steps: [10, 20])
    let newest = run.checkpoints.appendingPathComponent("step-00000020")
    let state = try Checkpoint.verify(newest)
    XCTAssertEqual(state.format, 2)
    for file in Checkpoint.tensorFiles {
      XCTAssertEqual(state.checksums?[file], sha256Hex(fileAt: newest.appendingPathComponent(file)), file)
    }
    XCTAssertEqual(run.newestIntactCheckpoint().intact?.state.step, 20)

    // One byte of the weights changed: named, and the earlier checkpoint is the newest intact one.
    let model = newest.appendingPathComponent("model.safetensors")
    var bytes = [UInt8](try Data(contentsOf: model))
    bytes[bytes.count - 3] ^= 1
    try Data(bytes).write(to: model)
    XCTAssertThrowsError(try Checkpoint.load(newest)) {
      XCTAssertTrue("\($0)".contains("model.safetensors does not match the SHA-256"), "\($0)")
    }
    XCTAssertThrowsError(try loadVerifiedTensors(model)) { XCTAssertTrue("\($0)".contains("is damaged"), "\($0)") }
    let (intact, damaged) = run.newestIntactCheckpoint()
    XCTAssertEqual(intact?.state.step, 10)
    XCTAssertEqual(damaged.map(\.checkpoint.lastPathComponent), ["step-00000020"])
    try Engine.run {
      XCTAssertEqual(try initialWeights(from: run.url)["w"]!.floats()[3], 30)
      var notices: [String] = []
      _ = try initialWeights(from: run.url) { notices.append($0) }
      XCTAssertTrue(notices.first?.contains("initialising from step-00000010") == true, "\(notices)")
    }
    // A missing file is damage too; with no intact checkpoint left there is none.
    try FileManager.default.removeItem(at: run.checkpoints.appendingPathComponent("step-00000010/ema.safetensors"))
    let none = run.newestIntactCheckpoint()
    XCTAssertNil(none.intact)
    XCTAssertTrue(none.damaged.last?.problems == ["ema.safetensors is missing"], "\(none.damaged)")
  }

  func testResumePolicyNamesWhatMayNotChange() throws {
    let old = try TrainConfig(yaml: "lr: 1.0e-3\nseed: 7\ntrain_steps: 40\nnetwork:\n  encoder_depth: 5")
    var new = old
    new.lr = 1e-4
    new.clipGrad = 1
    new.trainSteps = 80
    let accepted = try ResumePolicy.check(resuming: old, with: new, runDirectory: URL(fileURLWithPath: "/runs/a"))
    XCTAssertEqual(accepted.map(\.key), ["lr", "clip_grad", "train_steps"])
    XCTAssertEqual(accepted.first?.description, "lr 0.001 -> 0.0001")
    new.seed = 8
    new.network.depth = 6
    XCTAssertThrowsError(try ResumePolicy.check(resuming: old, with: new, runDirectory: URL(fileURLWithPath: "/runs/a"))) {
      let message = "\($0)"
      XCTAssertTrue(message.contains("seed 7 -> 8, network.encoder_depth 5 -> 6, which --resume cannot change"), message)
      XCTAssertTrue(message.contains("--init-from /runs/a") && message.contains("clip_grad, compile, ddim_sampling_eta"), message)
    }
    // Every key the policy names is a key of the configuration.
    let keys = Set(ResumePolicy.changes(from: old, to: TrainConfig()).map(\.key))
    XCTAssertTrue(keys.isSuperset(of: ["lr", "seed", "network.encoder_depth"]), "\(keys)")
    for key in ResumePolicy.changeableKeys { XCTAssertNoThrow(try ConfigEdit(key: key, value: "1"), key) }
  }

  func testMetricsAreTruncatedToTheResumedStep() throws {
    let run = temporaryRun()
    defer { try? FileManager.default.removeItem(at: run.url) }
    try run.create()
    for step in [5, 10, 15] { try run.appendMetrics(.step(step: step, loss: 0.5, lr: 1e-4, gradNorm: 1, imagesPerSecond: 10, trainSeconds: 1)) }
    try run.appendMetrics(.checkpoint(step: 10))
    // A line half-written by a killed process.
    let handle = try FileHandle(forWritingTo: run.metrics)
    try handle.seekToEnd()
    try handle.write(contentsOf: Data("{\"event\":\"step\",\"st".utf8))
    try handle.close()
    try run.truncateMetrics(after: 10)
    XCTAssertEqual(run.readMetrics().map { "\($0.name)@\($0.step)" }, ["step@5", "step@10", "checkpoint@10"])
    XCTAssertTrue(try String(contentsOf: run.metrics, encoding: .utf8).hasSuffix("}\n"))
    try run.truncateMetrics(after: 0)
    XCTAssertEqual(run.readMetrics().count, 0)
  }

  func testStagingCopiesOfEndedProcessesOfThisHostAreRemoved() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // A process that has ended: its pid is free (and not reused within this test, in practice).
    let ended = Process()
    ended.executableURL = URL(fileURLWithPath: "/bin/true")
    try ended.run()
    ended.waitUntilExit()
    let dead = ended.processIdentifier
    let target = dir.appendingPathComponent("summary.json")
    let names = [".summary.json.tmp-\(StagingName.host)-\(dead)", ".summary.json.tmp-\(dead)",  // ended: removed
                 ".summary.json.tmp-\(StagingName.host)-\(getpid())",                            // this process
                 ".summary.json.tmp-another.host-\(dead)", ".other.json.tmp-\(dead)"]           // another host, another file
    for name in names { try Data().write(to: dir.appendingPathComponent(name)) }
    XCTAssertEqual(StagingName.removeStale(for: target), names[..<2].sorted())
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), names[2...].sorted())
    XCTAssertEqual(StagingName.url(for: target).lastPathComponent, names[2])
  }
}
