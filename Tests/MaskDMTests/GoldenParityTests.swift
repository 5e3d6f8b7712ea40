import Engine
import Foundation
import MaskDM
import XCTest

/// One golden case of the authors' code: `uvit_*.safetensors` with its `.json` configuration.
struct UViTGolden {
  let name: String
  let tensors: [String: Tensor]
  let json: [String: Any]

  /// Every golden pair in Tests/Fixtures/golden and in $MASKDM_GOLDEN_DIR.
  static func all() throws -> [UViTGolden] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var dirs = [root.appendingPathComponent("Tests/Fixtures/golden")]
    if let extra = ProcessInfo.processInfo.environment["MASKDM_GOLDEN_DIR"], !extra.isEmpty { dirs.append(URL(fileURLWithPath: extra)) }
    var cases: [UViTGolden] = []
    for dir in dirs {
      let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
      for f in files.sorted() where f.hasPrefix("uvit_") && f.hasSuffix(".safetensors") {
        let url = dir.appendingPathComponent(f)
        let jsonURL = url.deletingPathExtension().appendingPathExtension("json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: jsonURL)) as! [String: Any]
        cases.append(UViTGolden(name: url.path, tensors: try SafetensorsFile.load(url).tensors, json: json))
      }
    }
    return cases
  }

  func int(_ k: String) -> Int { (json[k] as? NSNumber)?.intValue ?? 0 }
  func double(_ k: String) -> Double { (json[k] as? NSNumber)?.doubleValue ?? 0 }

  /// The model described by the JSON, with facts the JSON leaves out read off the weights.
  func modelConfig() -> ModelConfig {
    var c = ModelConfig()
    c.imageSize = int("img_size")
    c.patchSize = int("patch_size")
    c.embedDim = int("embed_dim")
    c.depth = int("depth")
    c.numHeads = int("heads")
    c.qkvBias = json["qkv_bias"] as? Bool ?? false
    c.mlpRatio = json["mlp_ratio"].map { ($0 as! NSNumber).doubleValue } ?? 4
    c.channels = tensors["model.encoder.patch_embed.proj.weight"]!.shape[1]
    c.usePositionEmbedding = tensors["model.encoder.encoder_pos_embed"] != nil
    c.numClasses = tensors["model.encoder.label_emb.weight"]?.shape[0] ?? 0
    c.mlpTimeEmbed = tensors["model.encoder.time_embed.0.weight"] != nil
    return c
  }

  /// Runs the Swift implementation on the golden inputs: quantity name -> (ours, reference, tolerance).
  func compute() throws -> [(String, Tensor, Tensor, Double)] {
    let model = try MaskedUViT(modelConfig(), key: PRNGKey(seed: 0))
    try model.load(tensors.filter { $0.key.hasPrefix("model.") }, strict: true)
    let x = tensors["in.x"]!, t = tensors["in.t"]!, noise = tensors["in.noise"]!
    let visible = try visibleIndices(fromMask: tensors["in.mask"]!)
    let cosine = try GaussianDiffusion(schedule: .cosine)
    var out: [(String, Tensor, Tensor, Double)] = []
    out.append(("out.full", try model(x, timesteps: t), tensors["out.full"]!, 1e-5))
    out.append(("out.masked", try model(x, timesteps: t, visible: visible), tensors["out.masked"]!, 1e-5))
    if let y = tensors["in.y"] {
      // Class-conditional: the label token from label_emb (out.full is their y=None, uncond_embed).
      out.append(("out.cond", try model(x, timesteps: t, labels: y), tensors["out.cond"]!, 1e-5))
      out.append(("out.masked_cond", try model(x, timesteps: t, visible: visible, labels: y), tensors["out.masked_cond"]!, 1e-5))
      // A label of -1 (a dropped label) is their y=None.
      let dropped = try Tensor.full([x.shape[0]], -1, dtype: .int32)
      out.append(("out.full (labels -1)", try model(x, timesteps: t, labels: dropped), tensors["out.full"]!, 1e-5))
    }
    let linear = try GaussianDiffusion(schedule: .linear)
    out.append(("out.betas_linear", try Tensor(linear.betas), tensors["out.betas_linear"]!, 1e-12))
    out.append(("out.betas_cosine", try Tensor(cosine.betas), tensors["out.betas_cosine"]!, 1e-12))
    let xt = try cosine.qSample(x0: x, t: t, noise: noise)
    out.append(("out.xt", xt, tensors["out.xt"]!, 1e-5))
    let step = try Tensor.full([x.shape[0]], Double(int("p_step_t")), dtype: .int32)
    let goldenXt = tensors["out.xt"]!
    let (x0, _) = try cosine.predictions(output: model(goldenXt, timesteps: step), xt: goldenXt, t: step, clip: true)
    let (mean, logVar) = try cosine.posterior(x0: x0, xt: goldenXt, t: step)
    out.append(("out.p_x0", x0, tensors["out.p_x0"]!, 1e-5))
    out.append(("out.p_mean", mean, tensors["out.p_mean"]!, 1e-5))
    out.append(("out.p_logvar", logVar, tensors["out.p_logvar"]!, 1e-5))
    let loss = try cosine.loss(model: { try model.predict(patches: $0, visible: $2, timesteps: $1) }, x0: visiblePatches(x, visible, patchSize: modelConfig().patchSize), t: t,
                             noise: visiblePatches(noise, visible, patchSize: modelConfig().patchSize), visible: visible)
    out.append(("loss_cosine_l2", loss, try Tensor([double("loss_cosine_l2")]), 1e-5))
    if json["loss_cosine_l1"] != nil {  // the authors' loss_type: l1 (F.l1_loss), on the visible patches
      let l1 = try GaussianDiffusion(schedule: .cosine, loss: .l1)
      let loss = try l1.loss(model: { try model.predict(patches: $0, visible: $2, timesteps: $1) }, x0: visiblePatches(x, visible, patchSize: modelConfig().patchSize), t: t,
                             noise: visiblePatches(noise, visible, patchSize: modelConfig().patchSize), visible: visible)
      out.append(("loss_cosine_l1", loss, try Tensor([double("loss_cosine_l1")]), 1e-5))
    }
    return out
  }
}

/// Largest |a - b| / max(|b|) over all elements (relative to the reference's scale).
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
  let x = try a.doubles(), y = try b.doubles()
  guard x.count == y.count else { return .infinity }
  let scale = Swift.max(y.map { Swift.abs($0) }.max() ?? 0, 1e-30)
  return zip(x, y).map { Swift.abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

/// The quantities that disagree with the reference beyond their tolerance.
func parityFailures(_ results: [(String, Tensor, Tensor, Double)]) throws -> [String] {
  try results.compactMap { name, ours, reference, tolerance in
    let e = try relativeError(ours, reference)
    return e <= tolerance ? nil : "\(name): relative error \(e) > \(tolerance)"
  }
}

final class GoldenParityTests: XCTestCase {
  func testEveryGoldenFileMatchesTheAuthorsCode() throws {
    try Engine.run {
      let cases = try UViTGolden.all()
      XCTAssertFalse(cases.isEmpty, "no uvit_*.safetensors golden files found")
      // On every CPU code path of our kernels this machine can run (AVX-512, AVX2, generic).
      try Engine.forEachCPUPath { path in
        for golden in cases {
          let results = try golden.compute()
          let report = try results.map { "\($0.0) \(String(format: "%.2e", try relativeError($0.1, $0.2)))" }.joined(separator: ", ")
          print("golden \(golden.name) (\(path)): \(report)")
          let failures = try parityFailures(results)
          XCTAssertTrue(failures.isEmpty, "\(golden.name) (\(path)): \(failures.joined(separator: "; "))")
        }
      }
    }
  }

  func testAPerturbedGoldenValueIsDetected() throws {
    try Engine.run {
      guard let golden = try UViTGolden.all().first else { return XCTFail("no golden files") }
      let results = try golden.compute()
      for i in results.indices {
        var perturbed = results
        let (name, ours, reference, tolerance) = results[i]
        var values = try reference.doubles()
        values[values.count / 2] += 1e-3 * Swift.max(values.map { Swift.abs($0) }.max() ?? 1, 1)
        perturbed[i] = (name, ours, try Tensor(values, shape: reference.shape).astype(reference.dtype), tolerance)
        XCTAssertFalse(try parityFailures(perturbed).isEmpty, "a perturbation of \(name) went unnoticed")
      }
    }
  }
}
