// From the configuration's settings to the core's: the noise schedule, the mask and the sampler.
import Foundation
import MaskDM

extension TrainConfig {
  /// The noise schedule, objective and loss.
  public func diffusion() throws -> GaussianDiffusion {
    try GaussianDiffusion(schedule: betaSchedule, timesteps: timesteps, objective: objective, loss: lossType)
  }

  /// The pre-training mask, or nil for whole images (DSM).
  public func maskSpec() throws -> MaskSpec? {
    guard isMasked else { return nil }
    let kind: MaskKind
    switch dataset.maskType {
    case .patch:
      kind = .patch
    case .block:
      guard dataset.maskBlockSize > 0 else {
        throw ConfigError("dataset.MASK_TYPE block needs dataset.MASK_BLOCK_SIZE (e.g. 2, 4 or 8 patches)")
      }
      kind = .block(dataset.maskBlockSize)
    case .crop:
      let grid = network.grid
      // The authors' -1 means "derive from the ratio": the visible window that keeps 1 - ratio of the patches.
      let size = dataset.maskCropSize > 0
        ? dataset.maskCropSize : max(1, Int((Double(grid * grid) * (1 - dataset.maskRatio)).squareRoot()))
      kind = .crop(size)
    }
    return MaskSpec(kind: kind, ratio: dataset.maskRatio)
  }

  /// The sampler used for sample grids and FID: DDIM with `sampling_timesteps` steps and eta
  /// `ddim_sampling_eta`, or ancestral DDPM when that is T (as the authors' `is_ddim_sampling`).
  public func sampler() -> Sampler {
    samplingTimesteps < timesteps
      ? .ddim(steps: samplingTimesteps, eta: ddimSamplingEta) : .ddpm
  }
}
