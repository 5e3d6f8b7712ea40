// From the authors' configuration keys to the core's typed settings.
import Engine
import Foundation
import MaskDM

extension TrainConfig {
  /// The MaskedUViT described by the `network:` block.
  public func modelConfig() throws -> ModelConfig {
    var m = ModelConfig()
    m.imageSize = network.imgSize
    m.channels = network.inChans
    m.patchSize = network.patchSize
    m.embedDim = network.encoderEmbedDim
    m.depth = network.encoderDepth
    m.numHeads = network.encoderHeads
    m.mlpRatio = network.mlpRatio
    m.qkvBias = network.qkvBias
    m.usePositionEmbedding = network.usePosEmbed
    m.numClasses = max(network.numClasses, 0)
    m.mlpTimeEmbed = network.mlpTimeEmbed
    try m.validate()
    return m
  }

  /// The noise schedule and objective.
  public func diffusion() throws -> GaussianDiffusion {
    let objective: Objective
    switch self.objective {
    case "pred_x0": objective = .x0
    case "pred_v": objective = .v
    default: objective = .eps
    }
    guard let loss = LossKind(rawValue: lossType) else { throw ConfigError("loss_type must be l1 or l2 (got \(lossType))") }
    return try GaussianDiffusion(schedule: BetaSchedule(rawValue: betaSchedule) ?? .linear, timesteps: timesteps,
                                 objective: objective, loss: loss)
  }

  /// The pre-training mask, or nil for whole images (DSM).
  public func maskSpec() throws -> MaskSpec? {
    guard dataset.maskRatio > 0 else { return nil }
    let kind: MaskKind
    switch dataset.maskType {
    case "block":
      guard dataset.maskBlockSize > 0 else {
        throw ConfigError("dataset.MASK_TYPE block needs dataset.MASK_BLOCK_SIZE (e.g. 2, 4 or 8 patches)")
      }
      kind = .block(dataset.maskBlockSize)
    case "crop":
      let grid = network.imgSize / network.patchSize
      // The authors' -1 means "derive from the ratio": the visible window that keeps 1 - ratio of the patches.
      let size = dataset.maskCropSize > 0
        ? dataset.maskCropSize : max(1, Int((Double(grid * grid) * (1 - dataset.maskRatio)).squareRoot()))
      kind = .crop(size)
    default:
      kind = .patch
    }
    return MaskSpec(kind: kind, ratio: dataset.maskRatio)
  }

  /// The sampler used for sample grids and FID: DDIM with `sampling_timesteps` steps and eta
  /// `ddim_sampling_eta`, or ancestral DDPM when that is 0 or ≥ T.
  public func sampler() -> Sampler {
    samplingTimesteps > 0 && samplingTimesteps < timesteps
      ? .ddim(steps: samplingTimesteps, eta: ddimSamplingEta) : .ddpm
  }
}
