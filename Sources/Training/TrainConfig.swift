// The configuration of one training run. Its YAML keys are those of the authors' config files
// (jiachenlei/maskdm, configs/*.yml: `batch_size`, `lr`, `adam_betas`, `dataset.MASK_RATIO`,
// `network.encoder_embed_dim`, …) so their files load as they are; keys the authors pass on the
// command line (`train_steps`, `save_and_sample_every`, `seed`, …) may be written in the file too,
// and this project's own additions are listed in `ConfigSchema`. Defaults are the paper's
// CelebA-64 ablation settings (bs 256, lr 2e-4, linear betas, no clipping, no warm-up).

import Engine
import Foundation
import MaskDM

/// Optimisation, diffusion and bookkeeping settings (the top level of an authors' config file).
public struct TrainConfig: Equatable, Sendable {
  // Optimisation (the authors' settings).
  public var batchSize = 256
  public var lr = 2e-4
  public var adamBetas: [Double] = [0.99, 0.99]
  public var weightDecay = 0.03
  public var warmupSteps = 0
  public var emaDecay = 0.999
  public var emaUpdateEvery = 1
  /// Global-norm gradient clipping; nil (the authors' `null`) disables it.
  public var clipGrad: Double? = nil
  public var gradientAccumulateEvery = 1

  // Diffusion.
  public var betaSchedule = BetaSchedule.linear
  public var timesteps = 1000
  /// What the network predicts (the authors' `pred_noise`, `pred_x0`, `pred_v`).
  public var objective = Objective.eps
  /// `l2` (the paper's MSE) or `l1`.
  public var lossType = LossKind.l2
  /// DDIM steps for samples (the authors evaluate with 250 and preview with 500); T = DDPM.
  public var samplingTimesteps = 250
  public var ddimSamplingEta = 1.0

  // Run bookkeeping (the authors' command-line options).
  public var trainSteps = 200_000
  /// Stop at the first step after this many seconds of training (nil: steps decide).
  public var trainSeconds: Double? = nil
  public var saveAndSampleEvery = 10_000
  /// Keep the EMA weights every this many steps (and at the end) as `RUN/snapshots/step-N.safetensors`,
  /// the points an evaluation along training measures; nil keeps none. (This project's key.)
  public var snapshotEvery: Int? = nil
  public var numSamples = 16
  public var logEvery = 10
  public var seed: UInt64 = 1232
  /// Weights to start from (fine-tuning): a run directory or a `.safetensors` file; non-EMA weights.
  public var pretrainedModelCkpt = ""
  /// Float32, or bfloat16 mixed precision (float32 master weights and optimizer state).
  public var precision = Precision.fp32
  public var device = DeviceChoice.auto
  /// Trace the training step once and replay it fused (MLX compile).
  public var compile = true
  /// Class-conditional models: the probability that a training image's label is replaced by the
  /// learned unconditional embedding (classifier-free guidance's label dropout; U-ViT's 0.1).
  public var pUncond = 0.1

  public var dataset = DatasetSettings()
  /// The `network:` block is the model's shape itself (the authors' keys are bound to its fields in
  /// `ConfigSchema`); its `imageSize` is also the data's (`dataset.IMG_SIZE`).
  public var network = ModelConfig()

  public init() {}
}

/// How the training step computes.
public enum Precision: String, Codable, Sendable, CaseIterable {
  case fp32
  /// bfloat16 matmuls over float32 master weights (LayerNorm and the loss stay float32).
  case bf16
}

/// The name of a masking strategy, as the authors' `dataset.MASK_TYPE` and the command line write it
/// (the strategy itself, with its size, is `MaskKind`).
public enum MaskType: String, Codable, Sendable, CaseIterable {
  case patch, block, crop
}

/// The `dataset:` block: what to train on and how to mask it.
public struct DatasetSettings: Equatable, Sendable {
  /// `fashion-mnist`, `folder`, `celeba`, `celebahq`, `ffhq`, `afhq`, `vggface2`, `lsun`, `synthetic`,
  /// or `prepared` (a directory written by `maskdm prepare`).
  public var name = "celeba"
  public var path = ""
  public var split = "train"
  /// Keep only these class labels (nil: all).
  public var classes: [Int]? = nil
  /// Fine-tune on a fixed seeded subset of this fraction of the images (limited-data studies).
  public var fraction = 1.0
  public var subsetSeed: UInt64 = 0
  /// Synthetic sets: how many images.
  public var count = 1024

  public var maskRatio = 0.0
  /// The masking strategy and its size (the authors' MASK_TYPE, MASK_BLOCK_SIZE and MASK_CROP_SIZE).
  public var mask = MaskKind.patch

  public var hflipProb = 0.0

  public init() {}
}

/// A configuration that cannot be used, with the fix in the message.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

extension TrainConfig {
  /// Checks the settings together; the error names the key and what would work.
  public func validate() throws {
    func fail(_ m: String) -> ConfigError { ConfigError(m) }
    guard batchSize > 0 else { throw fail("batch_size must be positive (got \(batchSize))") }
    guard lr > 0, lr.isFinite else { throw fail("lr must be a positive number (got \(lr))") }
    guard adamBetas.count == 2, adamBetas.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
      throw fail("adam_betas must be two numbers in [0, 1), e.g. [0.99, 0.99] (got \(adamBetas))")
    }
    guard trainSteps >= 0 else { throw fail("train_steps must be ≥ 0") }
    guard weightDecay >= 0, weightDecay.isFinite else { throw fail("weight_decay must be ≥ 0 (got \(weightDecay))") }
    guard warmupSteps >= 0 else { throw fail("warmup_steps must be ≥ 0 (got \(warmupSteps)); 0 disables the warm-up") }
    guard (0...1).contains(emaDecay) else { throw fail("ema_decay must be in [0, 1], e.g. 0.999 (got \(emaDecay))") }
    guard emaUpdateEvery >= 1 else { throw fail("ema_update_every must be ≥ 1 (got \(emaUpdateEvery))") }
    if let clip = clipGrad, !(clip > 0 && clip.isFinite) {
      throw fail("clip_grad must be a positive norm, or null for no clipping (got \(clip))")
    }
    guard timesteps >= 1 else { throw fail("timesteps must be ≥ 1 (got \(timesteps))") }
    // As the authors' GaussianDiffusion asserts; equal to timesteps means ancestral DDPM sampling.
    guard (1...timesteps).contains(samplingTimesteps) else {
      throw fail("sampling_timesteps must be 1 to timesteps (\(timesteps)); \(timesteps) samples with DDPM (got \(samplingTimesteps))")
    }
    guard (0...1).contains(ddimSamplingEta) else { throw fail("ddim_sampling_eta must be in [0, 1] (got \(ddimSamplingEta))") }
    guard numSamples >= 0 else { throw fail("num_samples must be ≥ 0 (got \(numSamples)); 0 writes no sample grids") }
    if let seconds = trainSeconds, !(seconds > 0 && seconds.isFinite) {
      throw fail("train_seconds must be a positive number of seconds, or null (got \(seconds))")
    }
    guard dataset.count >= 1 else { throw fail("dataset.COUNT must be ≥ 1 (got \(dataset.count))") }
    guard saveAndSampleEvery > 0 else { throw fail("save_and_sample_every must be positive") }
    if let every = snapshotEvery, every < 1 {
      throw fail("snapshot_every must be a positive number of steps, or null for no snapshots (got \(every))")
    }
    guard logEvery > 0 else { throw fail("log_every must be positive: the steps between two loss lines (got \(logEvery))") }
    guard (0...1).contains(dataset.hflipProb) else {
      throw fail("dataset.hflip_prob must be a probability in [0, 1] (got \(dataset.hflipProb))")
    }
    guard gradientAccumulateEvery >= 1, batchSize % gradientAccumulateEvery == 0 else {
      throw fail("gradient_accumulate_every (\(gradientAccumulateEvery)) must divide batch_size (\(batchSize))")
    }
    guard (0..<1).contains(dataset.maskRatio) else {
      throw fail("dataset.MASK_RATIO must be in [0, 1) (got \(dataset.maskRatio)); 0 disables masking")
    }
    guard dataset.fraction > 0, dataset.fraction <= 1 else {
      throw fail("dataset.FRACTION must be in (0, 1] (got \(dataset.fraction))")
    }
    let n = network
    guard n.imageSize > 0, n.patchSize > 0 else {
      throw fail("network.img_size and network.patch_size must be positive (got \(n.imageSize) and \(n.patchSize))")
    }
    guard n.imageSize % n.patchSize == 0 else {
      throw fail("network.patch_size (\(n.patchSize)) must divide network.img_size (\(n.imageSize))")
    }
    guard n.numHeads > 0, n.embedDim > 0, n.embedDim % n.numHeads == 0 else {
      throw fail("network.encoder_heads (\(n.numHeads)) must divide encoder_embed_dim (\(n.embedDim))")
    }
    guard n.depth >= 1 else { throw fail("network.encoder_depth must be ≥ 1") }
    guard n.channels >= 1 else { throw fail("network.in_chans must be ≥ 1 (got \(n.channels))") }
    guard n.mlpRatio > 0 else { throw fail("network.mlp_ratio must be positive (got \(n.mlpRatio))") }
    guard (0..<1).contains(pUncond) else {
      throw fail("p_uncond must be a probability in [0, 1), e.g. 0.1 (got \(pUncond)); 0 trains without label dropout")
    }
    guard n.numClasses >= 0 else { throw fail("network.num_classes must be a number of classes, or -1 for unconditional") }
    try checkDimensions()
    let initExtension = (pretrainedModelCkpt as NSString).pathExtension.lowercased()
    if ["pt", "pth", "ckpt", "bin"].contains(initExtension) {
      throw fail("pretrained_model_ckpt (--init-from) \(pretrainedModelCkpt) is a PyTorch checkpoint, which training does not read: convert it first with `maskdm convert \(pretrainedModelCkpt) -o weights.safetensors`, then start from weights.safetensors")
    }
    if isMasked, dataset.mask == .block(nil) {
      throw fail("dataset.MASK_TYPE block needs dataset.MASK_BLOCK_SIZE (e.g. 2, 4 or 8 patches)")
    }
  }

  /// True when training sees masked images (MDSM) rather than whole ones (DSM).
  public var isMasked: Bool { dataset.maskRatio > 0 }
}
