// Generating images: ancestral DDPM over all T steps, DDIM (Song et al.) over a subsequence of
// `steps` timesteps with stochasticity eta, both with x₀ clipped to [-1, 1] as the authors sample
// (gaussian_ddpm.py: p_sample_loop, ddim_sample), or DPM-Solver++ 2M (DPMSolver.swift).
import Engine
import Foundation

/// How to sample.
public enum Sampler: Codable, Equatable, Sendable {
  /// Ancestral sampling through every timestep.
  case ddpm
  /// DDIM over `steps` timesteps; eta 1 is as stochastic as DDPM, 0 deterministic.
  case ddim(steps: Int, eta: Double)
  /// DPM-Solver++ (Lu et al. 2022), multistep second order in data prediction, over `steps` network
  /// evaluations; deterministic.
  case dpmSolver2M(steps: Int)

  /// The names `parse` accepts, as plans and the command line write them.
  public static let names = ["ddpm", "ddim", "dpm++2m"]

  /// Every spelling `parse` accepts with the name it stands for, longest first (a text is matched by
  /// its most specific spelling): plans, the importer and the command line read sampler names from here.
  public static let spellings: [(spelling: String, name: String)] = [
    ("dpm-solver++", "dpm++2m"), ("dpmsolver++", "dpm++2m"), ("dpm++2m", "dpm++2m"), ("dpmpp2m", "dpm++2m"), ("dpm++", "dpm++2m"),
    ("ddim", "ddim"), ("ddpm", "ddpm"),
  ]

  /// `ddpm`, `ddim` or `dpm++2m`, as plans and the command line name them.
  public var name: String {
    switch self {
    case .ddpm: return "ddpm"
    case .ddim: return "ddim"
    case .dpmSolver2M: return "dpm++2m"
    }
  }

  /// The sampler called `name` (case-insensitive; `dpmpp2m` and `dpm-solver++` also name DPM-Solver++ 2M)
  /// with `steps` network evaluations and DDIM's `eta` (ignored by the deterministic solvers, and
  /// `steps` by DDPM, which visits every timestep). The one reading of a sampler's name: plans, the
  /// command line and configurations all come through here.
  public static func parse(_ name: String, steps: Int, eta: Double) throws -> Sampler {
    let sampler: Sampler
    switch spellings.first(where: { $0.spelling == name.lowercased() })?.name {
    case "ddpm": sampler = .ddpm
    case "ddim": sampler = .ddim(steps: steps, eta: eta)
    case "dpm++2m": sampler = .dpmSolver2M(steps: steps)
    default: throw ModelError("unknown sampler \(name); use one of \(names.joined(separator: ", "))")
    }
    try sampler.validate()
    return sampler
  }

  /// Checks the settings on their own (the number of timesteps is checked when sampling).
  public func validate() throws {
    switch self {
    case .ddpm: return
    case let .ddim(steps, eta):
      guard steps >= 1 else { throw ModelError("DDIM needs at least one step (got \(steps))") }
      guard (0...1).contains(eta) else { throw ModelError("DDIM's eta must be in [0, 1] (got \(eta))") }
    case let .dpmSolver2M(steps):
      guard steps >= 1 else { throw ModelError("DPM-Solver++ needs at least one step (got \(steps))") }
    }
  }

  /// The network evaluations per sample's trajectory (nil: every timestep).
  public var steps: Int? {
    switch self {
    case .ddpm: return nil
    case let .ddim(steps, _), let .dpmSolver2M(steps): return steps
    }
  }

  /// DDIM's stochasticity (nil for DDPM).
  public var eta: Double? {
    if case let .ddim(_, eta) = self { return eta }
    return nil
  }

  /// For people: "DDPM" or "DDIM 50 steps, eta 0".
  public var label: String {
    switch self {
    case .ddpm: return "DDPM"
    case let .ddim(steps, eta): return String(format: "DDIM %d steps, eta %g", steps, eta)
    case let .dpmSolver2M(steps): return "DPM-Solver++ 2M \(steps) steps"
    }
  }
}

extension GaussianDiffusion {
  /// Samples images of `shape` (B, C, H, W) in [-1, 1]. `model(x_t, t)` returns the network output on
  /// whole images; `progress(done, total)` is called after each step.
  public func sample(model: (Tensor, Tensor) throws -> Tensor, shape: [Int], sampler: Sampler, key: PRNGKey,
                     progress: ((Int, Int) -> Void)?) throws -> Tensor {
    let b = shape[0]
    var keys = try key.split(2)
    var x = try Random.normal(shape, key: keys[0])
    var stream = keys[1]
    func nextKey() throws -> PRNGKey {
      keys = try stream.split(2)
      stream = keys[0]
      return keys[1]
    }
    switch sampler {
    case .ddpm:
      for (i, step) in (0..<timesteps).reversed().enumerated() {
        let t = try Tensor.full([b], Double(step), dtype: .int32)
        let (x0, _) = try predictions(output: model(x, t), xt: x, t: t, clip: true)
        let (mean, logVar) = try posterior(x0: x0, xt: x, t: t)
        x = step > 0 ? try mean + (logVar * 0.5).exp().reshaped([b, 1, 1, 1]) * Random.normal(shape, key: nextKey()) : mean
        try eval(x)
        progress?(i + 1, timesteps)
      }
    case let .ddim(steps, eta):
      guard steps >= 1 else { throw ModelError("DDIM needs at least one step") }
      // times = int(linspace(-1, T - 1, steps + 1)), reversed, taken in pairs (t, t_next).
      let times = (0...steps).map { Int((-1 + Double(timesteps) * Double($0) / Double(steps)).rounded(.towardZero)) }.reversed()
      let pairs = Array(zip(times.dropLast(), times.dropFirst()))
      for (i, (time, next)) in pairs.enumerated() {
        let t = try Tensor.full([b], Double(time), dtype: .int32)
        let (x0, eps) = try predictions(output: model(x, t), xt: x, t: t, clip: true)
        if next < 0 {
          x = x0
        } else {
          let (a, an) = (alphaBar(time), alphaBar(next))
          let sigma = eta * ((1 - a / an) * (1 - an) / (1 - a)).squareRoot()
          let c = Swift.max(1 - an - sigma * sigma, 0).squareRoot()
          x = try x0 * an.squareRoot() + eps * c
          if sigma > 0 { x = try x + Random.normal(shape, key: nextKey()) * sigma }
        }
        try eval(x)
        progress?(i + 1, pairs.count)
      }
    case let .dpmSolver2M(steps):
      x = try dpmSolver2M(model: model, from: x, steps: steps, clip: true) { i, _ in progress?(i + 1, steps) }
    }
    return try x.clip(-1, 1)
  }
}
