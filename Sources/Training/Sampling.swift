// Generating images from a trained run: EMA (default) or raw weights, any `Sampler`, unconditional or
// of chosen classes with classifier-free guidance, written as a folder of PNGs (for FID) and/or one grid.
import Engine
import Foundation
import MaskDM

/// Where the weights come from and how to sample.
public struct SamplingJob {
  public var config: TrainConfig
  /// A `.safetensors` file with the model's parameters.
  public var weights: URL
  public var count: Int
  /// Images per batch; nil: what the device serves best (`SamplingBatch.automatic`).
  public var batchSize: Int? = nil
  public var sampler: Sampler
  public var seed: UInt64 = 0
  /// Class-conditional models: the classes to draw, in equal consecutive blocks of the `count` images
  /// (image i is of class `classes[i * classes.count / count]`); nil draws unconditional samples
  /// (the learned unconditional embedding).
  public var classes: [Int]? = nil
  /// Classifier-free guidance scale w: the output is `cond + w (cond - uncond)` (as U-ViT; 0 is the
  /// conditional model alone). Needs `classes`.
  public var guidance = 0.0

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

  /// Checks the classes and guidance against the model.
  public func validate() throws {
    try sampler.validate()
    let k = config.network.numClasses
    guard count >= 1 else { throw ConfigError("the sample count must be at least 1 (got \(count))") }
    if let batchSize, batchSize < 1 { throw ConfigError("the batch size must be at least 1 (got \(batchSize))") }
    guard guidance.isFinite else { throw ConfigError("the guidance scale must be a number (got \(guidance))") }
    guard let classes else {
      if guidance != 0 {
        throw ConfigError("a guidance scale needs classes to guide towards: give --class K (or --class all)")
      }
      return
    }
    guard k > 0 else {
      throw ConfigError("this model is unconditional (network.num_classes is \(config.network.numClasses)); drop --class, or train with num_classes > 0 on labelled data")
    }
    guard !classes.isEmpty, classes.count <= count else {
      throw ConfigError("\(classes.count) classes need at least as many images (got -n \(count))")
    }
    if let bad = classes.first(where: { !(0..<k).contains($0) }) {
      throw ConfigError("class \(bad) is not one of the model's classes 0…\(k - 1)")
    }
  }

  /// The class of every image (nil: unconditional).
  public var imageLabels: [Int]? {
    classes.map { c in (0..<count).map { c[$0 * c.count / count] } }
  }

  /// Samples `count` images in batches, handing each batch (B, C, H, W) in [-1, 1] to `consume`
  /// with the index of its first image. `progress` receives (images done, total).
  public func run(consume: (Tensor, Int) throws -> Void, progress: ((Int, Int) -> Void)? = nil) throws {
    try validate()
    try Engine.run {
      try Engine.select(config.device)
      let model = try MaskedUViT(config.network, key: PRNGKey(seed: 0))
      // A checkpoint's file is checked against the checksum its state.json records.
      let report = try model.load(try loadVerifiedTensors(weights), strict: true)
      guard report.missing.isEmpty else {
        throw ConfigError("\(weights.lastPathComponent) lacks parameters the model needs: \(report.missing.prefix(5).joined(separator: ", "))")
      }
      try run(model: model, consume: consume, progress: progress)
    }
  }

  /// `run` with a model already built and loaded (the weights file is not read): on the engine thread.
  public func run(model: MaskedUViT, consume: (Tensor, Int) throws -> Void, progress: ((Int, Int) -> Void)? = nil) throws {
    try validate()
    try Engine.run {
      let diffusion = try config.diffusion()
      let n = config.network
      // The compiled evaluation captures the weights as they are: a weight still lazy (a model just
      // initialised, as `bench sample`'s) would be traced as its random initialisation and drawn again
      // at every step, which once cost half of each step. Materialised, they are constants.
      try eval(Array(model.parameters().values))
      let forward = try Self.compiledForward(model, guided: guidance != 0)
      let labels = imageLabels
      let batchSize = self.batchSize ?? SamplingBatch.automatic(for: n, device: Engine.device, memoryLimit: Memory.limit,
                                                                 guided: guidance != 0)
      var done = 0
      var key = try PRNGKey(seed: seed)
      while done < count {
        let b = min(batchSize, count - done)
        let parts = try key.split(2)
        key = parts[0]
        var extra: [Tensor] = []
        if let labels { extra.append(try Tensor(labels[done..<(done + b)].map(Int32.init))) }
        if guidance != 0 { extra.append(try Tensor.scalar(guidance)) }
        let images = try diffusion.sample(
          model: { x, t in try forward([x, t] + extra)[0] }, shape: [b, n.channels, n.imageSize, n.imageSize],
          sampler: sampler, key: parts[1], progress: nil)
        try eval(images)
        try consume(images, done)
        done += b
        progress?(done, count)
      }
    }
  }

  /// One traced, fused network evaluation reused for every step (the weights are fixed while
  /// sampling): `[x, t]`, `[x, t, labels]`, or with guidance `[x, t, labels, w]`, where the
  /// conditional and unconditional outputs come from one pass over the doubled batch.
  static func compiledForward(_ model: MaskedUViT, guided: Bool) throws -> CompiledFunction {
    try CompiledFunction { inputs in
      let (x, t) = (inputs[0], inputs[1])
      guard inputs.count > 2 else { return [try model(x, timesteps: t)] }
      let labels = inputs[2]
      guard guided else { return [try model(x, timesteps: t, labels: labels)] }
      let b = x.shape[0]
      let unconditional = try Tensor.full([b], -1, dtype: .int32)
      let both = try model(Tensor.concatenate([x, x]), timesteps: Tensor.concatenate([t, t]),
                           labels: Tensor.concatenate([labels.astype(.int32), unconditional]))
      let parts = try both.split(at: [b])
      let (cond, uncond) = (parts[0], parts[1])
      return [try cond + (cond - uncond) * inputs[3]]
    }
  }
}
