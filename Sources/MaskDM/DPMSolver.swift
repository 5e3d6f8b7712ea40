// DPM-Solver++ 2M (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
// Probabilistic Models", Algorithm 2): the multistep second-order solver of the diffusion ODE in data
// prediction, as the reference implementation (diffusers' DPMSolverMultistepScheduler with
// algorithm_type dpmsolver++, solver_order 2, solver_type midpoint) takes its steps:
// - the timesteps: round(linspace(0, T - 1, N + 1)) in reverse, the last (0) dropped, each step going
//   from one to the next and the last to sigma 0 (the clean image);
// - the first step is first order (no earlier output yet), and so is the last: from the final
//   timestep to sigma 0 the first-order step is x₀ itself (the reference's final_sigmas_type zero);
// - x₀ is clipped to [-1, 1] at every step, as the authors clip for DDPM and DDIM, and as the paper's
//   thresholding does for pixel-space models (the reference's thresholding with sample_max_value 1 is
//   exactly this clip).
import Engine
import Foundation

extension GaussianDiffusion {
  /// DPM-Solver++'s timesteps for `steps` network evaluations, from noisiest: `round(linspace(0, T-1,
  /// steps + 1))` reversed, without the final 0 (rounding half to even, as NumPy does).
  public func dpmSolverTimesteps(steps: Int) throws -> [Int] {
    guard steps >= 1 else { throw ModelError("DPM-Solver++ needs at least one step (got \(steps))") }
    let stride = Double(timesteps - 1) / Double(steps)
    let grid = (0...steps).map { Int((Double($0) * stride).rounded(.toNearestOrEven)) }
    let times = Array(grid.reversed().dropLast())
    // More steps than timesteps would repeat a timestep (a step of length 0).
    guard Set(times).count == times.count else {
      throw ModelError("DPM-Solver++ with \(steps) steps repeats timesteps of a \(timesteps)-step schedule; use at most \(timesteps - 1) steps")
    }
    return times
  }

  /// Runs DPM-Solver++ 2M from `x` (pure noise at the noisiest timestep) and returns the clean
  /// estimate. `model(x_t, t)` is the network's output for this diffusion's objective; `clip` bounds
  /// every x₀ to [-1, 1]. `step(i, x)` sees the state after each step (the last one is x₀).
  public func dpmSolver2M(model: (Tensor, Tensor) throws -> Tensor, from start: Tensor, steps: Int, clip: Bool,
                          step: ((Int, Tensor) throws -> Void)? = nil) throws -> Tensor {
    let times = try dpmSolverTimesteps(steps: steps)
    let b = start.shape[0]
    // alpha_t = sqrt(ᾱ), sigma_t = sqrt(1 - ᾱ), lambda_t = log(alpha_t / sigma_t), in float64 on the host.
    func alpha(_ t: Int) -> Double { alphaBar(t).squareRoot() }
    func sigma(_ t: Int) -> Double { (1 - alphaBar(t)).squareRoot() }
    func lambda(_ t: Int) -> Double { Foundation.log(alpha(t)) - Foundation.log(sigma(t)) }
    var x = start
    var previous: (x0: Tensor, lambda: Double)? = nil
    for (i, time) in times.enumerated() {
      let t = try Tensor.full([b], Double(time), dtype: .int32)
      let (x0, _) = try predictions(output: model(x, t), xt: x, t: t, clip: clip)
      if i == times.count - 1 {
        // The last step goes to sigma 0, where the first-order update is x₀ itself.
        x = x0
      } else {
        let next = times[i + 1]
        let h = lambda(next) - lambda(time)
        let decay = sigma(next) / sigma(time)  // sigma_t / sigma_s
        let gain = -alpha(next) * Foundation.expm1(-h)  // -alpha_t (e^{-h} - 1)
        if let (x0Before, lambdaBefore) = previous {
          // Second order (midpoint): D = x0 + (x0 - x0') / (2 r), r = h_before / h.
          let r = (lambda(time) - lambdaBefore) / h
          let d = try x0 + (x0 - x0Before) * (0.5 / r)
          x = try x * decay + d * gain
        } else {
          x = try x * decay + x0 * gain
        }
        previous = (x0, lambda(time))
      }
      try eval(x, x0)  // x0 is kept for the next step's second-order term
      try step?(i, x)
    }
    return x
  }
}
