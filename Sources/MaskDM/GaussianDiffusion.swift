// DDPM with T steps (Ho et al.; the authors' gaussian_ddpm.py): noise schedules computed in float64
// and stored in float32, the forward process q(x_t | x_0), the losses of Eq. 1 (DSM on whole images)
// and Eq. 2 (MDSM on the visible patches), and the posterior q(x_{t-1} | x_t, x_0).
import Engine
import Foundation

/// The variance schedule.
public enum BetaSchedule: String, Codable, Sendable, CaseIterable {
  /// `linspace(s * 1e-4, s * 0.02, T)` with `s = 1000 / T`.
  case linear
  /// Nichol & Dhariwal's cosine schedule (s = 0.008), betas clipped to 0.999.
  case cosine

  /// The betas in float64.
  public func betas(timesteps t: Int) -> [Double] {
    switch self {
    case .linear:
      let scale = 1000 / Double(t)
      let (lo, hi) = (scale * 1e-4, scale * 0.02)
      return (0..<t).map { t == 1 ? lo : lo + (hi - lo) * Double($0) / Double(t - 1) }
    case .cosine:
      let s = 0.008
      let f = (0...t).map { x -> Double in
        let v = Foundation.cos((Double(x) / Double(t) + s) / (1 + s) * Double.pi / 2)
        return v * v
      }
      return (0..<t).map { Swift.min(Swift.max(1 - (f[$0 + 1] / f[0]) / (f[$0] / f[0]), 0), 0.999) }
    }
  }
}

/// What the network predicts.
public enum Objective: String, Codable, Sendable, CaseIterable {
  /// The noise ε (`pred_noise`, the paper's choice).
  case eps
  /// The clean image x₀.
  case x0
  /// v = sqrt(ᾱ) ε - sqrt(1-ᾱ) x₀.
  case v
}

/// The distance between prediction and target (the authors' `loss_type`, gaussian_ddpm.py `loss_fn`):
/// element-wise, then the mean per sample, then over the batch.
public enum LossKind: String, Codable, Sendable, CaseIterable {
  /// Squared error (`l2`, F.mse_loss; the paper's).
  case l2
  /// Absolute error (`l1`, F.l1_loss).
  case l1
}

/// The diffusion process and its per-timestep tables.
public struct GaussianDiffusion {
  public let schedule: BetaSchedule
  public let timesteps: Int
  public let objective: Objective
  public let lossKind: LossKind
  /// float64 tables, indexed by t.
  public let betas: [Double]
  public let alphasCumprod: [Double]
  let tables: [String: Tensor]

  public init(schedule: BetaSchedule, timesteps: Int = 1000, objective: Objective = .eps, loss: LossKind = .l2) throws {
    guard timesteps >= 1 else { throw ModelError("timesteps must be at least 1") }
    self.schedule = schedule
    self.timesteps = timesteps
    self.objective = objective
    self.lossKind = loss
    let b = schedule.betas(timesteps: timesteps)
    var ac: [Double] = []
    var product = 1.0
    for beta in b {
      product *= 1 - beta
      ac.append(product)
    }
    let prev = [1.0] + ac.dropLast()
    betas = b
    alphasCumprod = ac
    let idx = Array(0..<timesteps)
    let logVar: [Double] = idx.map { i in Foundation.log(Swift.max(b[i] * (1 - prev[i]) / (1 - ac[i]), 1e-20)) }
    let coef1: [Double] = idx.map { i in b[i] * prev[i].squareRoot() / (1 - ac[i]) }
    let coef2: [Double] = idx.map { i in (1 - prev[i]) * (1 - b[i]).squareRoot() / (1 - ac[i]) }
    var columns: [String: [Double]] = [:]
    columns["sqrt_ac"] = ac.map { $0.squareRoot() }
    columns["sqrt_1m_ac"] = ac.map { (1 - $0).squareRoot() }
    columns["sqrt_recip_ac"] = ac.map { (1 / $0).squareRoot() }
    columns["sqrt_recipm1_ac"] = ac.map { (1 / $0 - 1).squareRoot() }
    columns["post_logvar"] = logVar
    columns["post_coef1"] = coef1
    columns["post_coef2"] = coef2
    tables = try columns.mapValues { try Tensor($0.map(Float.init)) }
  }

  /// `table[t]` shaped (B, 1, 1, 1) to scale images (B, 1, 1 for patches: `rank` 3).
  func extract(_ name: String, _ t: Tensor, rank: Int = 4) throws -> Tensor {
    let v = try tables[name]!.take(t.astype(.int32), axis: 0)  // (B,)
    return try v.reshaped([t.shape[0]] + Array(repeating: 1, count: rank - 1))
  }

  /// x_t = sqrt(ᾱ_t) x₀ + sqrt(1 - ᾱ_t) ε.
  public func qSample(x0: Tensor, t: Tensor, noise: Tensor) throws -> Tensor {
    let r = x0.shape.count
    return try extract("sqrt_ac", t, rank: r) * x0 + extract("sqrt_1m_ac", t, rank: r) * noise
  }

  /// The regression target of the objective.
  func target(x0: Tensor, t: Tensor, noise: Tensor) throws -> Tensor {
    switch objective {
    case .eps: return noise
    case .x0: return x0
    case .v:
      let r = x0.shape.count
      return try extract("sqrt_ac", t, rank: r) * noise - extract("sqrt_1m_ac", t, rank: r) * x0
    }
  }

  /// The loss (`lossKind`: squared or absolute error), per-sample mean then batch mean. DSM (`visible`
  /// nil): `x0` and `noise` are images (B, C, H, W) and `model(x_t, t, nil)` maps noised images to the
  /// same shape. MDSM (`visible` (B, K) patch indices): `x0` and `noise` are the visible patches only
  /// (B, K, p*p*C) in `(p1 p2 C)` order (`visiblePatches`), only they are noised, and
  /// `model(x_t, t, visible)` maps them to the same shape; the loss is over the visible patches.
  public func loss(model: (Tensor, Tensor, Tensor?) throws -> Tensor, x0: Tensor, t: Tensor, noise: Tensor,
                   visible: Tensor?) throws -> Tensor {
    try mse(model: model, x0: x0, t: t, noise: noise, visible: visible)
  }

  private func mse(model: (Tensor, Tensor, Tensor?) throws -> Tensor, x0: Tensor, t: Tensor, noise: Tensor,
                   visible: Tensor?) throws -> Tensor {
    let xt = try qSample(x0: x0, t: t, noise: noise)
    let prediction = try model(xt, t, visible).astype(.float32)  // the loss in float32 under mixed precision
    let target = try self.target(x0: x0, t: t, noise: noise)
    let error = try prediction - target
    let distance = try lossKind == .l2 ? error.square() : error.abs()
    let perSample = try distance.reshaped([x0.shape[0], -1]).mean(axes: [1])  // (B,)
    return try perSample.mean()
  }

  /// x₀ from the model's output at (x_t, t), optionally clipped to [-1, 1], and the implied ε.
  public func predictions(output: Tensor, xt: Tensor, t: Tensor, clip: Bool) throws -> (x0: Tensor, eps: Tensor) {
    var x0: Tensor
    switch objective {
    case .eps:
      x0 = try extract("sqrt_recip_ac", t) * xt - extract("sqrt_recipm1_ac", t) * output
    case .x0:
      x0 = output
    case .v:
      x0 = try extract("sqrt_ac", t) * xt - extract("sqrt_1m_ac", t) * output
    }
    if clip { x0 = try x0.clip(-1, 1) }
    // As the authors: with the eps objective the network's ε is used as is, even when x₀ is clipped.
    let eps = objective == .eps ? output : try (extract("sqrt_recip_ac", t) * xt - x0) / extract("sqrt_recipm1_ac", t)
    return (x0, eps)
  }

  /// The posterior q(x_{t-1} | x_t, x₀): mean and log-variance (clipped at log 1e-20), (B,) for the latter.
  public func posterior(x0: Tensor, xt: Tensor, t: Tensor) throws -> (mean: Tensor, logVariance: Tensor) {
    let mean = try extract("post_coef1", t) * x0 + extract("post_coef2", t) * xt
    return (mean, try tables["post_logvar"]!.take(t.astype(.int32), axis: 0))
  }

  /// ᾱ_t as float32 for a host-side timestep.
  func alphaBar(_ t: Int) -> Double { alphasCumprod[t] }
}
