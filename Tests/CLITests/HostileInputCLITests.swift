import Foundation
import XCTest

/// What a careless or hostile user gives the CLI: each gets a named error and a non-zero exit (not a
/// signal), and nothing is created.
final class HostileInputCLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"

  func testSizesThatCannotBeAllocatedAreRefusedBeforeTheRunDirectoryExists() throws {
    for (set, expected) in [("network.encoder_embed_dim=100000", "more than the"),
                            ("network.encoder_embed_dim=1000000000", "network.encoder_embed_dim is too large"),
                            ("network.patch_size=0", "network.patch_size must be positive"),
                            ("log_every=0", "log_every must be positive")] {
      let dir = CLI.temporaryDirectory("sizes")
      defer { try? FileManager.default.removeItem(at: dir) }
      let r = try CLI.run(["train", tiny, "--set", set, "-o", dir.path])
      XCTAssertEqual(r.status, 1, "\(set): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains(expected), "\(set): \(r.stderr)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path), "\(set) created \(dir.path)")
    }
  }

  func testDeepEmptyAndDuplicatedConfigsAreNamedErrors() throws {
    let dir = CLI.temporaryDirectory("yaml")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let cases: [(String, String, String)] = [
      ("deep.yaml", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), "nesting deeper than"),
      ("empty.yaml", "", "holds no settings"),
      ("dup.yaml", "lr: 1.0e-3\nlr: 2.0e-3\n", "the key lr is written twice (lines 1 and 2)"),
    ]
    for (name, text, expected) in cases {
      let file = dir.appendingPathComponent(name)
      try text.write(to: file, atomically: true, encoding: .utf8)
      let r = try CLI.run(["train", file.path, "-o", dir.appendingPathComponent("run").path, "--dry-run"])
      XCTAssertEqual(r.status, 1, "\(name): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains(expected), "\(name): \(r.stderr)")
      XCTAssertFalse(r.stderr.lowercased().contains("celeba"), "\(name): \(r.stderr)")
    }
  }

  /// Weights whose names match nothing would leave the model at its random start (it trained from
  /// scratch, exit 0); a PyTorch checkpoint names `maskdm convert`.
  func testInitFromFilesThatAreNotThisModelsWeights() throws {
    let dir = CLI.temporaryDirectory("init")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // A valid safetensors file of one float32 tensor that is no weight of the model.
    let header = Data(#"{"unrelated.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
    var file = Data()
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(header)
    file.append(Data(count: 8))
    let foreign = dir.appendingPathComponent("foreign.safetensors")
    try file.write(to: foreign)
    let common = ["--set", "train_steps=2", "--set", "num_samples=0", "--set", "log_every=1"]
    let r = try CLI.run(["train", tiny, "--init-from", foreign.path, "-o", dir.appendingPathComponent("run").path] + common)
    XCTAssertEqual(r.status, 1, r.stderr)
    XCTAssertTrue(r.stderr.contains("none of its 1 tensors is a weight of this model"), r.stderr)

    let pt = dir.appendingPathComponent("checkpoint.pt")
    try Data([0x50, 0x4B, 0x03, 0x04]).write(to: pt)
    for path in [pt.path, dir.appendingPathComponent("weights.pt.safetensors").path] {
      try? FileManager.default.copyItem(atPath: pt.path, toPath: path)
      let p = try CLI.run(["train", tiny, "--init-from", path, "-o", dir.appendingPathComponent("run2").path] + common)
      XCTAssertEqual(p.status, 1, p.stderr)
      XCTAssertTrue(p.stderr.contains("maskdm convert"), "\(path): \(p.stderr)")
    }
  }

  func testSampleAndFIDRefuseWhatTheyCannotWriteBeforeWorking() throws {
    let dir = CLI.temporaryDirectory("out")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let sample = try CLI.run(["sample", dir.path, "-n", "0", "--grid", dir.appendingPathComponent("g.png").path])
    XCTAssertEqual(sample.status, 64, sample.stderr)
    XCTAssertTrue(sample.stderr.contains("-n must be at least 1 image (got 0)"), sample.stderr)
    XCTAssertFalse(sample.stderr.contains("concatenate"), sample.stderr)
    let stats = try CLI.run(["fid", "stats", dir.path, "-o", dir.path])
    XCTAssertEqual(stats.status, 64, stats.stderr)
    XCTAssertTrue(stats.stderr.contains("is a folder; give the .npz file to write"), stats.stderr)
    XCTAssertFalse(stats.stderr.contains("NSCocoaErrorDomain"), stats.stderr)
    let missing = try CLI.run(["fid", "stats", dir.path, "-o", dir.appendingPathComponent("no/such/stats.npz").path])
    XCTAssertTrue(missing.stderr.contains("does not exist; create it first"), missing.stderr)
  }

  /// During training there is no --on-bad-image: the advice is a `maskdm prepare` command that has it.
  func testABadImageDuringTrainingGivesAdviceThatTrainingAccepts() throws {
    let dir = CLI.temporaryDirectory("badimages")
    let images = dir.appendingPathComponent("images")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data("not an image".utf8).write(to: images.appendingPathComponent("broken.png"))
    let r = try CLI.run(["train", tiny, "--set", "dataset.NAME=folder", "--set", "dataset.PATH=\(images.path)",
                         "-o", dir.appendingPathComponent("run").path])
    XCTAssertEqual(r.status, 1, r.stderr)
    XCTAssertTrue(r.stderr.contains("broken.png"), r.stderr)
    XCTAssertTrue(r.stderr.contains("`maskdm prepare folder:\(images.path) -o DIR --on-bad-image skip`"), r.stderr)
    XCTAssertTrue(r.stderr.contains("dataset.NAME=prepared"), r.stderr)
  }
}
