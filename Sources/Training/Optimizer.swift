// AdamW, EMA, learning-rate warm-up and global-norm clipping with the authors' semantics
// (PyTorch's `torch.optim.AdamW`, lucidrains' `ema-pytorch`), written as pure functions of tensors so
// that the whole update can live inside one compiled training step.
import Engine
import Foundation

/// PyTorch's AdamW (decoupled weight decay), step by step as `torch.optim.AdamW` computes it.
public struct AdamW: Equatable, Sendable {
  public var beta1: Double
  public var beta2: Double
  public var eps: Double = 1e-8
  public var weightDecay: Double

  public init(beta1: Double, beta2: Double, eps: Double = 1e-8, weightDecay: Double) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
    self.weightDecay = weightDecay
  }

  /// Whether a parameter is decayed: the authors exempt the position embedding (U-ViT's
  /// `no_weight_decay = {'pos_embed'}`).
  public static func decays(_ name: String) -> Bool { !name.hasSuffix("pos_embed") }

  /// Per-step scalars, computed on the host in float64: `[lr, lr * wd, step_size, sqrt(bias2)]`.
  public func scalars(lr: Double, step: Int) -> [Double] {
    let bias1 = 1 - Foundation.pow(beta1, Double(step))
    let bias2 = 1 - Foundation.pow(beta2, Double(step))
    return [lr, lr * weightDecay, lr / bias1, bias2.squareRoot()]
  }

  /// One AdamW update of one parameter followed by the EMA step `ema·d + p'·(1 - d)`, fused into one
  /// pass per parameter on the CPU (`Tensor.adamwEMAUpdate`; MLX's ops elsewhere). `scalars` is float32
  /// `scalars(lr:step:) + [d]`. Returns p', m', v' and the new EMA weights.
  public func updateWithEMA(parameter p: Tensor, gradient g: Tensor, m: Tensor, v: Tensor, ema: Tensor,
                            scalars: Tensor, decay: Bool) throws -> (Tensor, Tensor, Tensor, Tensor)
  {
    let r = try Tensor.adamwEMAUpdate(parameter: p, gradient: g, m: m, v: v, ema: ema, scalars: scalars,
                                      beta1: beta1, beta2: beta2, eps: eps, weightDecay: decay)
    return (r.parameter, r.m, r.v, r.ema)
  }
}

/// Linear warm-up `min(step / warmup, 1)` then constant (the authors use no decay).
public func learningRate(base: Double, step: Int, warmupSteps: Int) -> Double {
  warmupSteps > 0 ? base * Swift.min(Double(step) / Double(warmupSteps), 1) : base
}

/// Scales gradients so that their global L2 norm is at most `maxNorm` (PyTorch's
/// `clip_grad_norm_`: coefficient `maxNorm / (norm + 1e-6)`, clamped to 1). Returns the clipped
/// gradients and the norm before clipping.
public func clipGlobalNorm(_ grads: [Tensor], maxNorm: Double) throws -> ([Tensor], Tensor) {
  let squares = try grads.map { try $0.astype(.float32).square().sum() }
  let norm = try Tensor.stack(squares).sum().sqrt()
  let coefficient = try (norm + 1e-6).reciprocal() * maxNorm
  let scale = try coefficient.minimum(Tensor.scalar(1))
  return (try grads.map { try $0 * scale.astype($0.dtype) }, norm)
}

/// ema-pytorch's schedule: the EMA copies the weights for the first `updateAfterStep` updates, then
/// decays with `1 - (1 + epoch / invGamma)^(-power)`, capped at `decay` (0.999 for the authors).
public struct EMASchedule: Equatable, Sendable {
  public var decay: Double
  public var updateAfterStep = 100
  public var invGamma = 1.0
  public var power = 2.0 / 3.0
  public var updateEvery = 1

  public init(decay: Double, updateEvery: Int = 1) {
    self.decay = decay
    self.updateEvery = updateEvery
  }

  /// What the `count`-th call of `update()` (counting from 0) does: nil skips, 0 copies, else the
  /// decay of `ema = decay * ema + (1 - decay) * weights`.
  public func action(count: Int) -> Double? {
    guard count % updateEvery == 0 else { return nil }
    if count <= updateAfterStep { return 0 }
    let epoch = Double(Swift.max(count + 1 - updateAfterStep - 1, 0))
    if epoch <= 0 { return 0 }
    let value = 1 - Foundation.pow(1 + epoch / invGamma, -power)
    return Swift.min(Swift.max(value, 0), decay)
  }
}
