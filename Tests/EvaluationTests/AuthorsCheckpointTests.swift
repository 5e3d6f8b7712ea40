import Engine
@testable import Evaluation
@testable import TorchFormats
import Foundation
import XCTest

/// Writes `model` (and `ema`) as safetensors and turns them into a checkpoint in the authors' layout with
/// scripts/make_authors_checkpoint.py (stdlib pickle, the pickler torch.save uses). Returns the .pt file.
func makeAuthorsCheckpoint(model: [String: Tensor], ema: [String: Tensor]? = nil, options: [String] = [],
                           in dir: URL) throws -> URL {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let modelURL = dir.appendingPathComponent("model-in.safetensors"), emaURL = dir.appendingPathComponent("ema-in.safetensors")
  try SafetensorsFile(tensors: model).save(modelURL)
  var args = [root.appendingPathComponent("scripts/make_authors_checkpoint.py").path]
  let out = dir.appendingPathComponent("model-\(UUID().uuidString.prefix(6)).pt")
  args += [out.path, "--model", modelURL.path] + options
  if let ema {
    try SafetensorsFile(tensors: ema).save(emaURL)
    args += ["--ema", emaURL.path]
  }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = ["python3"] + args
  try p.run()
  p.waitUntilExit()
  XCTAssertEqual(p.terminationStatus, 0, "scripts/make_authors_checkpoint.py failed")
  return out
}

/// `maskdm convert`'s reading side: the authors' trainer checkpoints to our parameter names.
final class AuthorsCheckpointTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = FileManager.default.temporaryDirectory.appendingPathComponent("authors-\(UUID().uuidString.prefix(8))") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// A few tensors under MaskedUViT names, filled from `base` so raw and EMA weights differ.
  func weights(_ base: Float) throws -> [String: Tensor] {
    try Engine.run {
      let shapes: [String: [Int]] = ["encoder.encoder_pos_embed": [1, 5, 4], "encoder.in_blocks.0.attn.qkv.weight": [12, 4],
                                     "encoder.norm.bias": [4], "encoder_to_output.weight": [6, 4]]
      return try shapes.mapValues { shape in
        let n = shape.reduce(1, *)
        return try Tensor((0..<n).map { base + Float($0) * 0.25 }, shape: shape)
      }
    }
  }

  func assertSame(_ a: [String: Tensor], _ b: [String: Tensor], _ message: String, line: UInt = #line) throws {
    XCTAssertEqual(Set(a.keys), Set(b.keys), message, line: line)
    try Engine.run {
      for (k, t) in a {
        guard let u = b[k] else { continue }
        XCTAssertEqual(t.shape, u.shape, "\(message): \(k)", line: line)
        XCTAssertEqual(t.dtype, u.dtype, "\(message): \(k)", line: line)
        XCTAssertEqual(try t.floats(), try u.floats(), "\(message): \(k)", line: line)
      }
    }
  }

  func testTrainerLayoutGivesModelAndEMAWeightsUnderOurNames() throws {
    let raw = try weights(1), ema = try weights(-7)
    for options in [[], ["--module-prefix"]] {
      let ckpt = try AuthorsCheckpoint(contentsOf: makeAuthorsCheckpoint(model: raw, ema: ema, options: options, in: dir))
      XCTAssertEqual(ckpt.topLevelKeys, ["step", "model", "opt", "ema", "scaler"])
      let m = try ckpt.weights(.model)
      try assertSame(m.tensors, raw, "raw weights \(options)")
      XCTAssertEqual(m.step, 1234)
      XCTAssertTrue(m.dropped.contains("betas") && m.dropped.contains("posterior_mean_coef2"), "\(m.dropped)")
      XCTAssertEqual(m.dropped.count, 12)
      let e = try ckpt.weights(.ema)
      try assertSame(e.tensors, ema, "EMA weights \(options)")
      XCTAssertEqual(e.dropped.count, 12, "the EMA copy's schedule buffers go too; initted/step/online_model are not taken")
    }
  }

  func testABareStateDictConvertsAndHasNoEMA() throws {
    let raw = try weights(2)
    let ckpt = try AuthorsCheckpoint(contentsOf: makeAuthorsCheckpoint(model: raw, options: ["--layout", "state-dict"], in: dir))
    try assertSame(try ckpt.weights(.model).tensors, raw, "state dict")
    XCTAssertThrowsError(try ckpt.weights(.ema)) { XCTAssertTrue("\($0)".contains("no 'ema' entry"), "\($0)") }
  }

  func testUnknownLayoutsNameTheKeysFound() throws {
    let raw = try weights(0)
    let foreign = try AuthorsCheckpoint(contentsOf: makeAuthorsCheckpoint(model: raw, options: ["--layout", "foreign"], in: dir))
    for which in [AuthorsCheckpoint.Weights.model, .ema] {
      XCTAssertThrowsError(try foreign.weights(which)) {
        XCTAssertTrue("\($0)".contains("top-level keys found: epoch, state_dict_x, optimizer"), "\($0)")
      }
    }
    let noEMA = try AuthorsCheckpoint(contentsOf: makeAuthorsCheckpoint(model: raw, options: ["--layout", "no-ema"], in: dir))
    XCTAssertNoThrow(try noEMA.weights(.model))
    XCTAssertThrowsError(try noEMA.weights(.ema)) {
      XCTAssertTrue("\($0)".contains("no 'ema' entry (top-level keys found: step, model, opt, scaler)"), "\($0)")
      XCTAssertTrue("\($0)".contains("without --ema"), "\($0)")
    }
  }

  func testAHostileObjectInACheckpointIsRefused() throws {
    let url = try makeAuthorsCheckpoint(model: try weights(0), ema: try weights(1), options: ["--hostile"], in: dir)
    XCTAssertThrowsError(try AuthorsCheckpoint(contentsOf: url)) {
      XCTAssertTrue("\($0)".contains("system, which is not allowed"), "\($0)")
    }
  }

  func testPrefixesAndBuffers() {
    XCTAssertEqual(networkNames(["module.model.encoder.norm.bias", "module.betas", "model.module.head.weight"]).kept,
                   ["encoder.norm.bias", nil, "head.weight"])
    XCTAssertEqual(networkNames(["module.model.encoder.norm.bias", "module.betas"]).dropped, ["betas"])
    // A network state dict without the diffusion wrapper keeps every name.
    XCTAssertEqual(networkNames(["encoder.norm.bias", "encoder_to_output.bias"]).kept, ["encoder.norm.bias", "encoder_to_output.bias"])
  }

  func testStridedAndOffsetViewsReadAsTorchShowsThem() throws {
    // One storage [0, 1, …, 7]: `t` is its 2x3 transpose view (strides 1, 2) and `s` the row-major 2x2 from offset 4.
    func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
    func str(_ s: String) -> [UInt8] { [0x58, UInt8(s.utf8.count), 0, 0, 0] + Array(s.utf8) }
    func tensor(offset: UInt8, shape: [UInt8], strides: [UInt8]) -> [UInt8] {
      var p = global("torch._utils", "_rebuild_tensor_v2") + [0x28, 0x28] + str("storage") + global("torch", "FloatStorage")
      p += str("0") + str("cpu") + [0x4B, 8, 0x74, 0x51, 0x4B, offset, 0x28]
      p += shape.flatMap { [0x4B, $0] } + [0x74, 0x28] + strides.flatMap { [0x4B, $0] } + [0x74, 0x89, 0x7D, 0x74, 0x52]
      return p
    }
    var pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + str("t") + tensor(offset: 0, shape: [2, 3], strides: [1, 2])
    pickle += str("s") + tensor(offset: 4, shape: [2, 2], strides: [2, 1]) + [0x75, 0x2E]
    let storage = (0..<8).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
    let file = try TorchFile(data: writeZip([("archive/data.pkl", Data(pickle)), ("archive/data/0", Data(storage))]), source: "views.pt")
    try Engine.run {
      XCTAssertEqual(try file.tensors["t"]!.floats(), [0, 2, 4, 1, 3, 5])
      XCTAssertEqual(try file.tensors["s"]!.floats(), [4, 5, 6, 7])
    }
  }
}
