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
    if dataset.mask == .block(nil) {
      throw ConfigError("dataset.MASK_TYPE block needs dataset.MASK_BLOCK_SIZE (e.g. 2, 4 or 8 patches)")
    }
    return MaskSpec(kind: dataset.mask, ratio: dataset.maskRatio)
  }

  /// The sampler used for sample grids and FID: DDIM with `sampling_timesteps` steps and eta
  /// `ddim_sampling_eta`, or ancestral DDPM when that is T (as the authors' `is_ddim_sampling`).
  public func sampler() -> Sampler {
    samplingTimesteps < timesteps
      ? .ddim(steps: samplingTimesteps, eta: ddimSamplingEta) : .ddpm
  }
}

extension MaskKind {
  /// The kind the authors' MASK_TYPE names, with its size (nil: none given, or the authors' -1).
  public init(type: MaskType, size: Int?) {
    switch type {
    case .patch: self = .patch
    case .block: self = .block(size)
    case .crop: self = .crop(size)
    }
  }

  /// The authors' MASK_TYPE of this kind.
  public var type: MaskType {
    switch self {
    case .patch: return .patch
    case .block: return .block
    case .crop: return .crop
    }
  }

  /// The size of this kind if it is of kind `type` (a block's side or a crop's window, in patches).
  public func size(of type: MaskType) -> Int? {
    switch (self, type) {
    case let (.block(b), .block): return b
    case let (.crop(c), .crop): return c
    default: return nil
    }
  }

  /// This mask as kind `type`: its size kept when the kind stays, none otherwise.
  public func withType(_ type: MaskType) -> MaskKind { MaskKind(type: type, size: size(of: type)) }
}
