// `maskdm bench sample`: images per second of a preset's model (random weights: the arithmetic does
// not depend on them) under a sampler and step count, through the same `SamplingJob` path as
// `maskdm sample` and FID: one compiled network evaluation per step, batches of `batchSize`.
import Engine
import Foundation
import MaskDM

/// A sampling throughput measurement.
public struct SamplingBenchmark {
  public var config: TrainConfig
  public var sampler: Sampler
  /// Images per batch (nil: the device's, `SamplingBatch.automatic`), and timed batches (after one
  /// untimed warm-up batch that traces the graph).
  public var batchSize: Int?
  public var batches = 2
  /// Classes and guidance of a class-conditional model (see `SamplingJob`).
  public var classes: [Int]? = nil
  public var guidance = 0.0

  /// Sampling with `config`'s model (a study's evaluation, timed for its cost).
  public init(config: TrainConfig, sampler: Sampler, batchSize: Int?) {
    (self.config, self.sampler, self.batchSize) = (config, sampler, batchSize)
  }

  public init(preset: String, sampler: Sampler, batchSize: Int?) throws {
    config = try TrainingBenchmark(preset: preset).config
    self.sampler = sampler
    self.batchSize = batchSize
  }

  public struct Result: Codable {
    public var preset: String?
    public var sampler: String
    public var steps: Int?
    public var batchSize: Int
    public var guidance: Double
    public var images: Int
    public var imagesPerSecond: Double
    /// Seconds per batch, each timed batch.
    public var secondsPerBatch: [Double]
    public var device: String
    public var cpuPath: String?
  }

  public func run() throws -> Result {
    guard (batchSize ?? 1) >= 1, batches >= 1 else { throw ConfigError("the batch size and the timed batches must be at least 1") }
    return try Engine.run {
      try Engine.select(config.device)
      let batchSize = self.batchSize ?? SamplingBatch.automatic(for: config.network, device: Engine.device, memoryLimit: Memory.limit,
                                                                 guided: guidance != 0)
      var job = SamplingJob(config: config, weights: URL(fileURLWithPath: "/dev/null"), count: batchSize * (batches + 1), sampler: sampler)
      job.batchSize = batchSize
      job.classes = classes
      job.guidance = guidance
      let model = try MaskedUViT(config.network, key: PRNGKey(seed: 0))
      var times: [Double] = []
      var last = DispatchTime.now().uptimeNanoseconds
      try job.run(model: model, consume: { images, first in
        try eval(images)
        let now = DispatchTime.now().uptimeNanoseconds
        if first > 0 { times.append(Double(now - last) / 1e9) }  // the first batch traces and compiles
        last = now
      })
      let total = times.reduce(0, +)
      return Result(preset: nil, sampler: sampler.label, steps: sampler.steps, batchSize: batchSize, guidance: guidance, images: batchSize * batches,
                    imagesPerSecond: Double(batchSize * batches) / total, secondsPerBatch: times,
                    device: Engine.device.rawValue, cpuPath: Engine.cpuPath)
    }
  }
}
