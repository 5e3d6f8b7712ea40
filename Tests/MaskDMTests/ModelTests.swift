import Engine
import MaskDM
import NN
import XCTest

/// The model's behaviour beyond the golden files: the REMOVE-H switch, gradients, sampling, loading.
final class ModelTests: XCTestCase {
  var tiny: ModelConfig { .tiny }

  func testNoPositionEmbeddingRunsAndDiffers() throws {
    try Engine.run {
      var without = tiny
      without.usePositionEmbedding = false
      let a = try MaskedUViT(tiny, key: PRNGKey(seed: 1))
      let b = try MaskedUViT(without, key: PRNGKey(seed: 1))
      XCTAssertNotNil(a.parameters()["encoder.encoder_pos_embed"])
      XCTAssertNil(b.parameters()["encoder.encoder_pos_embed"])
      let x = try Random.normal([2, 3, 16, 16], key: PRNGKey(seed: 2))
      let t = try Tensor([5, 600] as [Int32])
      let (_, visible) = try sampleMasks(MaskSpec(kind: .patch, ratio: 0.5), grid: 4, batch: 2, key: PRNGKey(seed: 3))
      // Same weights except the position embedding: outputs must differ, masked and unmasked.
      try b.load(a.parameters().filter { $0.key != "encoder.encoder_pos_embed" })
      XCTAssertEqual(try b(x, timesteps: t).shape, [2, 3, 16, 16])
      XCTAssertEqual(try b(x, timesteps: t, visible: visible).shape, [2, 8, 48])
      XCTAssertGreaterThan(try relativeError(a(x, timesteps: t), b(x, timesteps: t)), 1e-4)
      XCTAssertGreaterThan(try relativeError(a(x, timesteps: t, visible: visible), b(x, timesteps: t, visible: visible)), 1e-4)
    }
  }

  func testPatchesFromEitherImageLayoutAgree() throws {
    // Training cuts the visible patches straight from (B, H, W, C) batches; the model and the golden
    // files take (B, C, H, W). Both must give the same `(p1 p2 C)` patches, and a wrong shape is refused.
    try Engine.run {
      let nchw = try Random.normal([2, 3, 8, 12], key: PRNGKey(seed: 7))
      let a = try patchify(nchw, patchSize: 4)
      let b = try patchify(nchw.transposed([0, 2, 3, 1]), patchSize: 4, channelsLastInput: true)
      XCTAssertEqual(a.shape, [2, 6, 48])
      XCTAssertEqual(try a.floats(), try b.floats())
      // Patch 1 of image 0 is rows 0..<4, columns 4..<8; its first values are channels 0, 1, 2 of pixel (0, 4).
      let pixel = try nchw.slice(axis: 0, 0..<1).slice(axis: 2, 0..<1).slice(axis: 3, 4..<5).floats()
      XCTAssertEqual(Array(try a.slice(axis: 1, 1..<2).floats().prefix(3)), pixel)
      XCTAssertThrowsError(try patchify(nchw, patchSize: 5))
      XCTAssertThrowsError(try patchify(a, patchSize: 4))
    }
  }

  func testMaskedLossGradientMatchesFiniteDifferences() throws {
    try Engine.run {
      let model = try MaskedUViT(tiny, key: PRNGKey(seed: 4))
      let diffusion = try GaussianDiffusion(schedule: .cosine)
      let keys = try PRNGKey(seed: 5).split(3)
      let x = try Random.uniform([2, 3, 16, 16], low: -1, high: 1, key: keys[0])
      let noise = try Random.normal([2, 3, 16, 16], key: keys[1])
      let t = try Tensor([100, 800] as [Int32])
      let (_, visible) = try sampleMasks(MaskSpec(kind: .block(2), ratio: 0.5), grid: 4, batch: 2, key: keys[2])
      let names = ["encoder.in_blocks.0.attn.qkv.weight", "encoder.mid_block.mlp.fc1.bias", "encoder_to_output.weight",
                   "encoder.encoder_pos_embed"]
      let params = model.parameters()
      func loss(_ p: Parameters) throws -> Tensor {
        try model.update(p)
        return try diffusion.loss(model: { try model.predict(patches: $0, visible: $2, timesteps: $1) }, x0: visiblePatches(x, visible, patchSize: 4), t: t,
                             noise: visiblePatches(noise, visible, patchSize: 4), visible: visible)
      }
      let (_, grads) = try valueAndGrad(params) { p, _ in [try loss(p)] }
      for name in names {
        let g = try grads[name]!.floats()
        var values = try params[name]!.floats()
        let i = values.count / 3
        let h: Float = 1e-2
        values[i] += h
        var p = params
        p[name] = try Tensor(values, shape: params[name]!.shape)
        let up = try loss(p).item()
        values[i] -= 2 * h
        p[name] = try Tensor(values, shape: params[name]!.shape)
        let down = try loss(p).item()
        let numeric = (up - down) / Double(2 * h)
        XCTAssertEqual(Double(g[i]), numeric, accuracy: 2e-2 * Swift.max(Swift.abs(numeric), 1e-2), name)
      }
      try model.update(params)
    }
  }

  func testSamplersReturnFiniteImagesInRange() throws {
    try Engine.run {
      let model = try MaskedUViT(tiny, key: PRNGKey(seed: 6))
      for (diffusion, sampler) in [(try GaussianDiffusion(schedule: .linear, timesteps: 50), Sampler.ddpm),
                                   (try GaussianDiffusion(schedule: .cosine), Sampler.ddim(steps: 5, eta: 1)),
                                   (try GaussianDiffusion(schedule: .cosine), Sampler.ddim(steps: 4, eta: 0)),
                                   (try GaussianDiffusion(schedule: .linear, objective: .v), Sampler.dpmSolver2M(steps: 4))] {
        var calls = 0
        let images = try diffusion.sample(model: { try model($0, timesteps: $1) }, shape: [2, 3, 16, 16], sampler: sampler,
                                          key: PRNGKey(seed: 7), progress: { _, _ in calls += 1 })
        let v = try images.floats()
        XCTAssertEqual(images.shape, [2, 3, 16, 16])
        XCTAssertTrue(v.allSatisfy { $0.isFinite && $0 >= -1 && $0 <= 1 })
        XCTAssertEqual(calls, sampler.steps ?? diffusion.timesteps, "\(sampler.label): one progress call per step")
      }
    }
  }

  func testLoadingReportsMismatches() throws {
    try Engine.run {
      let model = try MaskedUViT(tiny, key: PRNGKey(seed: 8))
      var weights = model.parameters()
      weights["model.encoder.norm.weight"] = weights.removeValue(forKey: "encoder.norm.weight")
      weights["encoder.extra"] = try Tensor.zeros([1])
      weights.removeValue(forKey: "encoder.norm.bias")
      let report = try model.load(weights, strict: false)
      XCTAssertEqual(report.missing, ["encoder.norm.bias"])
      XCTAssertEqual(report.unexpected, ["encoder.extra"])
      XCTAssertThrowsError(try model.load(weights, strict: true))
      XCTAssertThrowsError(try model.update(["encoder.norm.weight": try Tensor.zeros([3])])) {
        XCTAssertTrue("\($0)".contains("encoder.norm.weight has shape [64]; the weights have [3]"), "\($0)")
      }
      XCTAssertEqual(model.parameterCount, model.parameters().values.reduce(0) { $0 + $1.size })
    }
  }
}
