// The sampler flags that `sample`, `fid` and `bench sample` share: `--sampler NAME --steps N --eta E`
// (NAME one of `Sampler.names`), with `--ddpm` and `--ddim-steps S` kept as their older spellings.
import ArgumentParser
import MaskDM

struct SamplerOptions: ParsableArguments {
  @Option(help: "The sampler: \(Sampler.names.joined(separator: ", ")) (default: the run's configuration).")
  var sampler: String?
  @Option(help: "Network evaluations per image (ddim, dpm++2m; default: the config's sampling_timesteps).")
  var steps: Int?
  @Option(help: "DDIM eta (default: the config's ddim_sampling_eta).") var eta: Double?
  @Flag(help: "Ancestral DDPM sampling over all timesteps (the same as --sampler ddpm).") var ddpm = false
  @Option(help: "DDIM steps (the same as --sampler ddim --steps S).") var ddimSteps: Int?

  /// True when any sampler flag is given.
  var isSet: Bool { sampler != nil || steps != nil || eta != nil || ddpm || ddimSteps != nil }

  /// The sampler these flags ask for; `fallback` (the configuration's) when they ask for none.
  /// `defaultSteps` and `defaultEta` fill what the flags leave out.
  func resolve(fallback: Sampler, defaultSteps: Int, defaultEta: Double) throws -> Sampler {
    var name = sampler
    if ddpm {
      guard name == nil || name?.lowercased() == "ddpm", ddimSteps == nil else {
        throw ValidationError("--ddpm contradicts --sampler \(name ?? "ddim")/--ddim-steps; give one sampler")
      }
      name = "ddpm"
    }
    if let ddimSteps {
      guard name == nil || name?.lowercased() == "ddim", steps == nil || steps == ddimSteps else {
        throw ValidationError("--ddim-steps \(ddimSteps) contradicts --sampler \(name!) or --steps; use --sampler NAME --steps N")
      }
      name = "ddim"
    }
    let steps = self.steps ?? ddimSteps
    if name == nil, steps != nil || eta != nil {
      // Steps or eta alone adjust the configuration's sampler (DDIM when it is DDPM).
      name = fallback == .ddpm ? "ddim" : fallback.name
    }
    guard let name else { return fallback }
    if name.lowercased() == "ddpm", steps != nil {
      throw ValidationError("--steps has no effect with DDPM, which visits every timestep; drop it or choose ddim or dpm++2m")
    }
    if eta != nil, name.lowercased() != "ddim" {
      throw ValidationError("--eta is DDIM's stochasticity; \(name) is deterministic (drop --eta or use --sampler ddim)")
    }
    do {
      return try Sampler.parse(name, steps: steps ?? fallback.steps ?? defaultSteps, eta: eta ?? fallback.eta ?? defaultEta)
    } catch let error as ModelError {
      throw ValidationError(error.message)
    }
  }
}
