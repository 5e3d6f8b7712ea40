// The configuration of one training run. Its YAML keys are those of the authors' config files
// (jiachenlei/maskdm, configs/*.yml: `batch_size`, `lr`, `adam_betas`, `dataset.MASK_RATIO`,
// `network.encoder_embed_dim`, …) so their files load as they are; keys the authors pass on the
// command line (`train_steps`, `save_and_sample_every`, `seed`, …) may be written in the file too,
// and this project's own additions are listed in `ConfigSchema`. Defaults are the paper's
// CelebA-64 ablation settings (bs 256, lr 2e-4, linear betas, no clipping, no warm-up).

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
  public var betaSchedule = "linear"
  public var timesteps = 1000
  /// `pred_noise` (eps), `pred_x0` or `pred_v`.
  public var objective = "pred_noise"
  /// `l2` (the paper's MSE) or `l1`.
  public var lossType = "l2"
  /// DDIM steps for samples (the authors evaluate with 250 and preview with 500); 0 or ≥ T = DDPM.
  public var samplingTimesteps = 250
  public var ddimSamplingEta = 1.0

  // Run bookkeeping (the authors' command-line options).
  public var trainSteps = 200_000
  /// Stop at the first step after this many seconds of training (nil: steps decide).
  public var trainSeconds: Double? = nil
  public var saveAndSampleEvery = 10_000
  public var numSamples = 16
  public var logEvery = 10
  public var seed: UInt64 = 1232
  /// Weights to start from (fine-tuning): a run directory or a `.safetensors` file; non-EMA weights.
  public var pretrainedModelCkpt = ""
  /// `fp32` or `bf16` (mixed precision: float32 master weights and optimizer state).
  public var precision = "fp32"
  /// `cpu`, `gpu` or `auto`.
  public var device = "auto"
  /// Trace the training step once and replay it fused (MLX compile).
  public var compile = true

  public var dataset = DatasetSettings()
  public var network = NetworkSettings()

  public init() {}
}

/// The `dataset:` block: what to train on and how to mask it.
public struct DatasetSettings: Equatable, Sendable {
  /// `fashion-mnist`, `folder`, `celeba`, `celebahq`, `ffhq`, `afhq`, `vggface2`, `synthetic`, or
  /// `prepared` (a directory written by `maskdm prepare`).
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
  /// `patch`, `block` or `crop`.
  public var maskType = "patch"
  public var maskBlockSize = -1
  public var maskCropSize = -1

  public var imgSize = 64
  public var hflipProb = 0.0

  public init() {}
}

/// The `network:` block: the MaskedUViT's shape.
public struct NetworkSettings: Equatable, Sendable {
  public var imgSize = 64
  public var patchSize = 4
  public var inChans = 3
  public var encoderEmbedDim = 512
  public var encoderDepth = 13
  public var encoderHeads = 8
  public var mlpRatio = 4.0
  public var qkvBias = false
  /// Class-conditional when > 0 (the authors write -1 for unconditional).
  public var numClasses = -1
  public var mlpTimeEmbed = false
  /// Add the learned position embedding before masking (false: the "REMOVE H" ablation).
  public var usePosEmbed = true

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
    guard ["linear", "cosine"].contains(betaSchedule) else {
      throw fail("beta_schedule must be linear or cosine (got \(betaSchedule))")
    }
    guard ["pred_noise", "pred_x0", "pred_v"].contains(objective) else {
      throw fail("objective must be pred_noise, pred_x0 or pred_v (got \(objective))")
    }
    guard ["l1", "l2"].contains(lossType) else { throw fail("loss_type must be l1 or l2 (got \(lossType))") }
    guard ["fp32", "bf16"].contains(precision) else { throw fail("precision must be fp32 or bf16 (got \(precision))") }
    guard ["cpu", "gpu", "auto"].contains(device) else { throw fail("device must be cpu, gpu or auto (got \(device))") }
    guard trainSteps >= 0 else { throw fail("train_steps must be ≥ 0") }
    guard saveAndSampleEvery > 0 else { throw fail("save_and_sample_every must be positive") }
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
    guard ["patch", "block", "crop"].contains(dataset.maskType) else {
      throw fail("dataset.MASK_TYPE must be patch, block or crop (got \(dataset.maskType))")
    }
    guard dataset.fraction > 0, dataset.fraction <= 1 else {
      throw fail("dataset.FRACTION must be in (0, 1] (got \(dataset.fraction))")
    }
    guard network.imgSize == dataset.imgSize else {
      throw fail("network.img_size (\(network.imgSize)) must equal dataset.IMG_SIZE (\(dataset.imgSize))")
    }
    guard network.imgSize > 0, network.patchSize > 0 else {
      throw fail("network.img_size and network.patch_size must be positive (got \(network.imgSize) and \(network.patchSize))")
    }
    guard network.imgSize % network.patchSize == 0 else {
      throw fail("network.patch_size (\(network.patchSize)) must divide network.img_size (\(network.imgSize))")
    }
    guard network.encoderHeads > 0, network.encoderEmbedDim > 0, network.encoderEmbedDim % network.encoderHeads == 0 else {
      throw fail("network.encoder_heads (\(network.encoderHeads)) must divide encoder_embed_dim (\(network.encoderEmbedDim))")
    }
    guard network.encoderDepth >= 1 else { throw fail("network.encoder_depth must be ≥ 1") }
  }

  /// True when training sees masked images (MDSM) rather than whole ones (DSM).
  public var isMasked: Bool { dataset.maskRatio > 0 }
}
