import Engine
import Foundation
import MaskDM
@testable import Training
import XCTest

/// Class-conditional training: the labels reach the label token, `p_uncond` drops them onto the
/// learned unconditional embedding, and an unconditional model is untouched by labels.
final class ConditioningTests: XCTestCase {
  /// The tiny preset with 10 classes, batch 16, masked 50% or whole images.
  func config(pUncond: Double, masked: Bool) throws -> TrainConfig {
    var c = try TrainingBenchmark(preset: "tiny", maskRatio: masked ? 0.5 : 0).config
    c.network.numClasses = 10
    c.pUncond = pUncond
    c.compile = false
    return c
  }

  /// The gradients of one loss for the labels 0…3 (4 images each, none of classes 4…9).
  func gradients(_ c: TrainConfig, labels: [Int32]? = (0..<16).map { Int32($0 % 4) }) throws -> [String: [Float]] {
    try Engine.run {
      let model = try MaskedUViT(c.network, key: PRNGKey(seed: 3))
      let params = model.parameters()
      let names = params.keys.sorted()
      let step = try TrainingStep(model: model, diffusion: try c.diffusion(), config: c, names: names, mask: try c.maskSpec())
      let images = try Random.randint([c.batchSize, 16, 16, 3], low: 0, high: 256, key: PRNGKey(seed: 4)).astype(.uint8)
      let (_, grads) = try step.lossAndGradients(names.map { params[$0]! }, images: images,
                                                 labels: try labels.map { try Tensor($0) }, key: PRNGKey(seed: 5))
      return Dictionary(uniqueKeysWithValues: try zip(names, grads).map { ($0, try $1.floats()) })
    }
  }

  func rowNorms(_ table: [Float], dim: Int) -> [Float] {
    stride(from: 0, to: table.count, by: dim).map { r in table[r..<(r + dim)].map { $0 * $0 }.reduce(0, +) }
  }

  func testLabelsReachTheLabelTokenAndOnlyTheirRows() throws {
    for masked in [false, true] {
      let c = try config(pUncond: 0, masked: masked)
      let g = try gradients(c)
      let rows = rowNorms(try XCTUnwrap(g["encoder.label_emb.weight"]), dim: c.network.embedDim)
      XCTAssertTrue(rows[0..<4].allSatisfy { $0 > 0 }, "masked \(masked): the classes in the batch get no gradient: \(rows)")
      XCTAssertTrue(rows[4...].allSatisfy { $0 == 0 }, "masked \(masked): classes not in the batch got gradient: \(rows)")
      XCTAssertTrue(try XCTUnwrap(g["encoder.uncond_embed"]).allSatisfy { $0 == 0 }, "p_uncond 0 must never use the unconditional embedding")
    }
  }

  func testLabelDropoutTrainsTheUnconditionalEmbedding() throws {
    let g = try gradients(try config(pUncond: 0.5, masked: true))
    XCTAssertGreaterThan(try XCTUnwrap(g["encoder.uncond_embed"]).map { $0 * $0 }.reduce(0, +), 0)
    XCTAssertGreaterThan(try XCTUnwrap(g["encoder.label_emb.weight"]).map { $0 * $0 }.reduce(0, +), 0)
  }

  func testWithoutLabelsEveryImageIsUnconditional() throws {
    let g = try gradients(try config(pUncond: 0, masked: false), labels: nil)
    XCTAssertTrue(try XCTUnwrap(g["encoder.label_emb.weight"]).allSatisfy { $0 == 0 })
    XCTAssertGreaterThan(try XCTUnwrap(g["encoder.uncond_embed"]).map { $0 * $0 }.reduce(0, +), 0)
  }

  func testPUncondIsAProbability() throws {
    var c = try config(pUncond: 1, masked: false)
    XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("p_uncond"), "\($0)") }
    c.pUncond = 0.1
    XCTAssertNoThrow(try c.validate())
    XCTAssertEqual(try TrainConfig(yaml: "p_uncond: 0.2").pUncond, 0.2)
  }

  func testSamplingJobChecksClassesAndGuidance() throws {
    var c = try config(pUncond: 0.1, masked: false)
    var job = SamplingJob(config: c, weights: URL(fileURLWithPath: "unused.safetensors"), count: 20, sampler: .dpmSolver2M(steps: 4))
    job.classes = [0, 1, 2, 3]
    XCTAssertNoThrow(try job.validate())
    XCTAssertEqual(job.imageLabels, (0..<20).map { $0 / 5 }, "classes come in equal blocks, one per grid row")
    job.classes = [10]
    XCTAssertThrowsError(try job.validate()) { XCTAssertTrue("\($0)".contains("not one of the model's classes 0…9"), "\($0)") }
    job.classes = nil
    job.guidance = 3
    XCTAssertThrowsError(try job.validate()) { XCTAssertTrue("\($0)".contains("--class"), "\($0)") }
    c.network.numClasses = 0
    job = SamplingJob(config: c, weights: URL(fileURLWithPath: "unused.safetensors"), count: 4, sampler: .ddpm)
    job.classes = [1]
    XCTAssertThrowsError(try job.validate()) { XCTAssertTrue("\($0)".contains("unconditional"), "\($0)") }
  }
}

/// `p_uncond` is written only when it matters, so that the YAML (and the study stage identities hashed
/// from it) of unconditional configurations is what it was before the key existed.
final class PUncondYAMLTests: XCTestCase {
  func testPUncondIsWrittenOnlyWhenItMatters() throws {
    var c = TrainConfig()
    XCTAssertFalse(c.yaml().contains("p_uncond"))
    c.network.numClasses = 10
    XCTAssertTrue(c.yaml().contains("p_uncond: 0.1"))
    c.network.numClasses = 0
    c.pUncond = 0.2
    XCTAssertTrue(c.yaml().contains("p_uncond: 0.2"), "a changed value is written, and read back")
    XCTAssertEqual(try TrainConfig(yaml: c.yaml()), c)
  }
}
