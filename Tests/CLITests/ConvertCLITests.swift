import Engine
import Foundation
import MaskDM
import Training
import XCTest

/// `maskdm convert` as a user runs it: an authors'-layout checkpoint of the tiny model in, weights that
/// `maskdm sample` takes out.
final class ConvertCLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"

  func testConvertedEMAWeightsMatchAndSample() throws {
    let dir = CLI.temporaryDirectory("convert")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // The tiny config's model at two seeds: one as the raw weights, one as the EMA.
    let config = try TrainConfig(contentsOf: CLI.packageRoot.appendingPathComponent(tiny))
    let (raw, ema) = try Engine.run { () -> (Parameters, Parameters) in
      let c = config.network
      return (try MaskedUViT(c, key: PRNGKey(seed: 1)).parameters(), try MaskedUViT(c, key: PRNGKey(seed: 2)).parameters())
    }
    let rawIn = dir.appendingPathComponent("raw-in.safetensors"), emaIn = dir.appendingPathComponent("ema-in.safetensors")
    try SafetensorsFile(tensors: raw).save(rawIn)
    try SafetensorsFile(tensors: ema).save(emaIn)
    let ckpt = dir.appendingPathComponent("model-3.pt")
    let script = Process()
    script.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    script.arguments = ["python3", CLI.packageRoot.appendingPathComponent("scripts/make_authors_checkpoint.py").path, ckpt.path,
                        "--model", rawIn.path, "--ema", emaIn.path, "--module-prefix"]
    try script.run()
    script.waitUntilExit()
    XCTAssertEqual(script.terminationStatus, 0, "scripts/make_authors_checkpoint.py failed")

    for (flags, expected, name) in [([String](), raw, "raw.safetensors"), (["--ema"], ema, "ema.safetensors")] {
      let out = dir.appendingPathComponent(name)
      let r = try CLI.run(["convert", ckpt.path, "-o", out.path, "--check-config", tiny] + flags)
      XCTAssertEqual(r.status, 0, r.stderr)
      XCTAssertTrue(r.stdout.contains("every parameter of the model of \(tiny) is present"), r.stdout)
      XCTAssertTrue(r.stdout.contains("of step 1234"), r.stdout)
      let written = try SafetensorsFile.load(out)
      XCTAssertEqual(written.metadata["weights"], flags.isEmpty ? "model" : "ema")
      XCTAssertEqual(Set(written.tensors.keys), Set(expected.keys))
      try Engine.run {
        for (k, t) in expected { XCTAssertEqual(try written.tensors[k]?.floats(), try t.floats(), "\(name): \(k)") }
      }
    }

    let grid = dir.appendingPathComponent("grid.png")
    let s = try CLI.run(["sample", dir.appendingPathComponent("ema.safetensors").path, "--config", tiny, "-n", "2",
                         "--ddim-steps", "2", "--grid", grid.path])
    XCTAssertEqual(s.status, 0, s.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: grid.path))

    // A config whose model has other layers: the check names what does not match and fails.
    let deeper = dir.appendingPathComponent("deeper.yaml")
    let text = try String(contentsOf: CLI.packageRoot.appendingPathComponent(tiny), encoding: .utf8)
    try text.replacingOccurrences(of: "encoder_depth: 5", with: "encoder_depth: 7").write(to: deeper, atomically: true, encoding: .utf8)
    let bad = try CLI.run(["convert", ckpt.path, "-o", dir.appendingPathComponent("x.safetensors").path, "--check-config", deeper.path])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.stderr.contains("missing (") && bad.stderr.contains("encoder.in_blocks.2."), bad.stderr)
  }

  func testUnreadableOrForeignInputGetsClearErrors() throws {
    let dir = CLI.temporaryDirectory("convert-bad")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = try CLI.run(["convert", dir.appendingPathComponent("nope.pt").path, "-o", dir.appendingPathComponent("w.safetensors").path])
    XCTAssertNotEqual(missing.status, 0)
    XCTAssertTrue(missing.stderr.contains("no such checkpoint"), missing.stderr)
    let text = dir.appendingPathComponent("notes.pt")
    try Data("not a zip".utf8).write(to: text)
    let notZip = try CLI.run(["convert", text.path, "-o", dir.appendingPathComponent("w.safetensors").path])
    XCTAssertNotEqual(notZip.status, 0)
    XCTAssertTrue(notZip.stderr.contains("notes.pt is not a PyTorch zip archive: not a zip file at all"), notZip.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("w.safetensors").path))
  }
}
