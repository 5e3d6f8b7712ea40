// `maskdm bench train`: the throughput of the full training step (forward, backward, AdamW, EMA) on
// random data, with the presets the comparison harness uses against the authors' PyTorch code.
import Engine
import Foundation
import MaskDM

/// A benchmark setting: model, batch and mask.
public struct TrainingBenchmark {
  public var config: TrainConfig
  public var steps = 20
  public var warmup = 3
  /// Called with one step's graph (the last warm-up step's), counted by MLX primitive (`graphCensus`),
  /// before it runs.
  public var census: (([String: Int]) -> Void)?

  /// A benchmark of `config`'s training step (a study's calibration of one stage setting).
  public init(config: TrainConfig) { self.config = config }

  /// `s32`: 32px, patch 4, dim 256, depth 13, 4 heads, batch 64. `celeba64`: the paper's CelebA-64
  /// model (64px, patch 4, 512, depth 13, 8 heads), batch 128. `tiny`: for tests.
  public init(preset: String, maskType: String = "patch", maskRatio: Double = 0, blockSize: Int = 2, cropSize: Int = -1) throws {
    var c = TrainConfig()
    switch preset {
    case "s32":
      (c.network.imgSize, c.network.encoderEmbedDim, c.network.encoderDepth, c.network.encoderHeads, c.batchSize) = (32, 256, 13, 4, 64)
    case "celeba64":
      (c.network.imgSize, c.network.encoderEmbedDim, c.network.encoderDepth, c.network.encoderHeads, c.batchSize) = (64, 512, 13, 8, 128)
    case "tiny":
      (c.network.imgSize, c.network.encoderEmbedDim, c.network.encoderDepth, c.network.encoderHeads, c.batchSize) = (16, 64, 5, 4, 16)
    default:
      throw ConfigError("unknown preset \(preset); known: s32, celeba64, tiny")
    }
    c.dataset.imgSize = c.network.imgSize
    c.dataset.maskRatio = maskRatio
    c.dataset.maskType = maskType
    c.dataset.maskBlockSize = blockSize
    c.dataset.maskCropSize = cropSize
    try c.validate()
    config = c
  }

  /// The measured result.
  public struct Result: Codable {
    public var preset: String?
    public var imagesPerSecond: Double
    public var msPerStep: Double
    public var msPerStepAll: [Double]
    public var device: String
    public var maskRatio: Double
    public var maskType: String
    public var batchSize: Int
    public var parameters: Int
    public var peakMemoryBytes: Int
    public var compiled: Bool
    public var precision: String
    /// Engine.linearProduct: our AVX-512 or AVX2 product, OpenBLAS, or MLX on the GPU.
    public var linearProduct: String
    /// Engine.cpuPath: which CPU code path our kernels took (avx512, avx2, generic).
    public var cpuPath: String?
    /// Engine.openBLASCore: the kernel OpenBLAS chose (OPENBLAS_CORETYPE pins it).
    public var openblasCore: String?
  }

  /// Runs `warmup` untimed then `steps` timed steps; reports the median.
  public func run() throws -> Result {
    try Engine.run {
      let model = try MaskedUViT(try config.modelConfig(), key: PRNGKey(seed: 0))
      let diffusion = try config.diffusion()
      var params = model.parameters()
      let names = params.keys.sorted()
      var m = try params.mapValues { try Tensor.zeros($0.shape) }
      var v = m
      var ema = params
      let step = try TrainingStep(model: model, diffusion: diffusion, config: config, names: names, mask: try config.maskSpec())
      let n = config.network
      let images = try Random.randint([config.batchSize, n.imgSize, n.imgSize, n.inChans], low: 0, high: 256,
                                      key: PRNGKey(seed: 1)).astype(.uint8)
      try eval(images)
      try Memory.resetPeak()
      var times: [Double] = []
      for i in 0..<(warmup + steps) {
        let start = DispatchTime.now().uptimeNanoseconds
        let scalars = try Tensor((step.adam.scalars(lr: config.lr, step: i + 1) + [0.999]).map(Float.init))
        let out = try step(.init(params: names.map { params[$0]! }, m: names.map { m[$0]! }, v: names.map { v[$0]! },
                                 ema: names.map { ema[$0]! }, images: images, key: PRNGKey(seed: UInt64(i)), scalars: scalars))
        if i == Swift.max(warmup - 1, 0), let census {  // a warm-up step: the walk is not timed
          census(try graphCensus(out.params + out.m + out.v + out.ema + [out.loss]))
        }
        try eval(out.params + out.m + out.v + out.ema + [out.loss])
        for (j, name) in names.enumerated() {
          params[name] = out.params[j]
          m[name] = out.m[j]
          v[name] = out.v[j]
          ema[name] = out.ema[j]
        }
        if i >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
      }
      let median = times.sorted()[times.count / 2]
      return Result(
        preset: nil, imagesPerSecond: Double(config.batchSize) / (median / 1000), msPerStep: median, msPerStepAll: times,
        device: Engine.device.rawValue, maskRatio: config.dataset.maskRatio, maskType: config.dataset.maskType,
        batchSize: config.batchSize, parameters: params.values.reduce(0) { $0 + $1.size }, peakMemoryBytes: Memory.peak,
        compiled: config.compile, precision: config.precision, linearProduct: Engine.linearProduct,
        cpuPath: Engine.cpuPath, openblasCore: Engine.openBLASCore)
    }
  }
}
