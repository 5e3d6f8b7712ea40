// Generating images from a trained run: EMA (default) or raw weights, DDPM or DDIM, written as a
// folder of PNGs (for FID) and/or one grid.
import Engine
import Foundation
import MaskDM

/// Where the weights come from and how to sample.
public struct SamplingJob {
  public var config: TrainConfig
  /// A `.safetensors` file with the model's parameters.
  public var weights: URL
  public var count: Int
  public var batchSize = 64
  public var sampler: Sampler
  public var seed: UInt64 = 0

  public init(config: TrainConfig, weights: URL, count: Int, sampler: Sampler) {
    self.config = config
    self.weights = weights
    self.count = count
    self.sampler = sampler
  }

  /// The job for a run directory's newest checkpoint (EMA weights unless `ema` is false).
  public static func forRun(_ directory: URL, ema: Bool = true, count: Int) throws -> SamplingJob {
    let run = RunDirectory(directory)
    guard let checkpoint = run.latestCheckpoint else {
      throw ConfigError("\(directory.path) holds no finished checkpoint; train it first (or give a .safetensors file and --config)")
    }
    let config = try TrainConfig(contentsOf: run.config)
    return SamplingJob(config: config, weights: checkpoint.appendingPathComponent(ema ? "ema.safetensors" : "model.safetensors"),
                       count: count, sampler: config.sampler())
  }

  /// Samples `count` images in batches, handing each batch (B, C, H, W) in [-1, 1] to `consume`
  /// with the index of its first image. `progress` receives (images done, total).
  public func run(consume: (Tensor, Int) throws -> Void, progress: ((Int, Int) -> Void)? = nil) throws {
    try Engine.run {
      try Engine.select(config.device)
      let model = try MaskedUViT(config.network, key: PRNGKey(seed: 0))
      // A checkpoint's file is checked against the checksum its state.json records.
      let report = try model.load(try loadVerifiedTensors(weights), strict: true)
      guard report.missing.isEmpty else {
        throw ConfigError("\(weights.lastPathComponent) lacks parameters the model needs: \(report.missing.prefix(5).joined(separator: ", "))")
      }
      let diffusion = try config.diffusion()
      let n = config.network
      // One traced, fused forward pass reused for every step (the weights are fixed while sampling).
      let forward = try CompiledFunction { inputs in [try model(inputs[0], timesteps: inputs[1], visible: nil)] }
      var done = 0
      var key = try PRNGKey(seed: seed)
      while done < count {
        let b = min(batchSize, count - done)
        let parts = try key.split(2)
        key = parts[0]
        let images = try diffusion.sample(
          model: { x, t in try forward([x, t])[0] }, shape: [b, n.channels, n.imageSize, n.imageSize],
          sampler: sampler, key: parts[1], progress: nil)
        try eval(images)
        try consume(images, done)
        done += b
        progress?(done, count)
      }
    }
  }
}
