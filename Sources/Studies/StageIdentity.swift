// Identities and cache keys from a canonical encoding of what a stage or an evaluation computes: the
// typed fields that change the result, each written as `key=value` in a fixed order, the encoding
// versioned. Not from a printed form (the configuration's YAML, `String(describing:)`): changing how
// something is printed, or adding a key with a default, never retrains or re-evaluates anything.
// Studies made under an earlier encoding are moved to these identities when opened (IdentityMigration.swift).
import Evaluation
import Foundation
import MaskDM
import Training

/// The version of the identity encoding; raising it changes every identity and needs a migration.
let identityEncodingVersion = 2

/// Typed values as canonical text: `key=value` lines in the order they are added; numbers in their
/// shortest exact form, absent values as `none`.
struct CanonicalEncoding {
  private(set) var text: String

  init(_ kind: String) { text = "\(kind) v\(identityEncodingVersion)\n" }

  mutating func add(_ key: String, _ value: String) { text += "\(key)=\(value)\n" }
  mutating func add(_ key: String, _ value: Int) { add(key, String(value)) }
  mutating func add(_ key: String, _ value: UInt64) { add(key, String(value)) }
  mutating func add(_ key: String, _ value: Bool) { add(key, value ? "true" : "false") }
  mutating func add(_ key: String, _ value: Double) { add(key, "\(value)") }
  mutating func add(_ key: String, _ value: Double?) { add(key, value.map { "\($0)" } ?? "none") }
  mutating func add(_ key: String, _ value: Int?) { add(key, value.map(String.init) ?? "none") }
}

extension TrainConfig {
  /// What changes the weights a stage trains (and the snapshots it keeps): optimisation, diffusion,
  /// budget, seed, precision, data, mask and network. Left out: the device and compilation (how, not
  /// what), the training-time sample grids, logging and the initialisation path (a stage's parent is
  /// part of its identity instead); the mask of an unmasked stage, and `p_uncond` without classes.
  var resultEncoding: String {
    var e = CanonicalEncoding("stage")
    e.add("batch_size", batchSize)
    e.add("lr", lr)
    e.add("adam_betas", adamBetas.map { "\($0)" }.joined(separator: ","))
    e.add("weight_decay", weightDecay)
    e.add("warmup_steps", warmupSteps)
    (e.add("ema_decay", emaDecay), e.add("ema_update_every", emaUpdateEvery))
    e.add("clip_grad", clipGrad)
    e.add("gradient_accumulate_every", gradientAccumulateEvery)
    (e.add("beta_schedule", betaSchedule.configName), e.add("timesteps", timesteps))
    (e.add("objective", objective.configName), e.add("loss_type", lossType.configName))
    (e.add("train_steps", trainSteps), e.add("train_seconds", trainSeconds), e.add("snapshot_every", snapshotEvery))
    (e.add("seed", seed), e.add("precision", precision.configName))
    if network.numClasses > 0 { e.add("p_uncond", pUncond) }
    dataset.encode(into: &e)
    network.encode(into: &e)
    return e.text
  }
}

extension DatasetSettings {
  func encode(into e: inout CanonicalEncoding) {
    (e.add("dataset.name", name), e.add("dataset.path", path), e.add("dataset.split", split))
    e.add("dataset.classes", classes.map { $0.map(String.init).joined(separator: ",") } ?? "none")
    (e.add("dataset.fraction", fraction), e.add("dataset.subset_seed", subsetSeed), e.add("dataset.count", count))
    e.add("dataset.hflip_prob", hflipProb)
    guard maskRatio > 0 else { return e.add("dataset.mask", "none") }
    e.add("dataset.mask_ratio", maskRatio)
    switch mask {
    case .patch: e.add("dataset.mask", "patch")
    case let .block(b): e.add("dataset.mask", "block \(b ?? -1)")
    case let .crop(c): e.add("dataset.mask", c.map { "crop \($0)" } ?? "crop auto")
    }
  }
}

extension ModelConfig {
  func encode(into e: inout CanonicalEncoding) {
    (e.add("network.img_size", imageSize), e.add("network.patch_size", patchSize), e.add("network.in_chans", channels))
    (e.add("network.embed_dim", embedDim), e.add("network.depth", depth), e.add("network.heads", numHeads))
    (e.add("network.mlp_ratio", mlpRatio), e.add("network.qkv_bias", qkvBias), e.add("network.num_classes", numClasses))
    (e.add("network.mlp_time_embed", mlpTimeEmbed), e.add("network.use_pos_embed", usePositionEmbedding))
  }
}

extension Sampler {
  func encode(into e: inout CanonicalEncoding) {
    switch self {
    case .ddpm: e.add("sampler", "ddpm")
    case let .ddim(steps, eta): e.add("sampler", "ddim steps \(steps) eta \(eta)")
    case let .dpmSolver2M(steps): e.add("sampler", "dpm++2m steps \(steps)")
    }
  }
}

extension EvaluationProtocol {
  /// What changes one evaluation's numbers: the samples and how they are drawn, the reference, the
  /// metrics measured, the grid and the resize (not when the variant is evaluated, nor the points along).
  var resultEncoding: String {
    var e = CanonicalEncoding("evaluation")
    (e.add("samples", samples), e.add("batch_size", batchSize), e.add("seed", seed))
    sampler.encode(into: &e)
    (e.add("reference.split", reference.split), e.add("reference.count", reference.count))
    (e.add("reference.statistics", reference.statistics ?? "none"), e.add("reference.seed", reference.seed))
    (e.add("kid", kid), e.add("precision_recall", precisionRecall), e.add("grid", grid), e.add("fid_resize", fidResize.rawValue))
    return e.text
  }

  /// What a variant's evaluation computes: each evaluation's fields, when, and the points along training.
  var identityEncoding: String {
    var e = CanonicalEncoding("protocol")
    e.add("when", when.rawValue)
    switch along?.every {
    case nil: e.add("along", "none")
    case let .steps(n)?: e.add("along", "every \(n) steps")
    case let .seconds(s)?: e.add("along", "every \(s) s")
    }
    e.add("along.samples", along?.samples)
    return e.text + resultEncoding
  }
}

/// The identity of a stage: its name, what it computes and the identity of the stage it starts from.
func stageIdentity(name: String, config: TrainConfig, parent: String?) -> String {
  String(fnv1aHex("name=\(name)\n" + config.resultEncoding + "parent=\(parent ?? "none")\n").prefix(10))
}

/// What a variant computes: its stages and its evaluation protocol.
func variantKey(_ stages: [PlannedStage], _ evaluation: EvaluationProtocol) -> String {
  fnv1aHex("stages=" + stages.map(\.id).joined(separator: "/") + "\n" + evaluation.identityEncoding)
}
