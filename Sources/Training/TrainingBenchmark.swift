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

  /// A preset model (`ModelConfig.presets`: `s32`, `celeba64`, `tiny`, `quick`) at the batch the comparison
  /// harness trains it with (64, 128, 16 and 64).
  public init(preset: String, maskType: MaskType = .patch, maskRatio: Double = 0, blockSize: Int = 2, cropSize: Int = -1) throws {
    var c = TrainConfig()
    do { c.network = try ModelConfig.preset(preset) } catch let e as ModelError { throw ConfigError(e.message) }
    c.batchSize = Self.batchSizes[preset] ?? 64
    c.dataset.maskRatio = maskRatio
    c.dataset.mask = MaskKind(type: maskType, size: maskType == .block ? blockSize : cropSize > 0 ? cropSize : nil)
    try c.validate()
    config = c
  }

  /// The batch each preset is benchmarked with.
  static let batchSizes = ["s32": 64, "celeba64": 128, "tiny": 16, "quick": 64]

  /// The measured result.
  public struct Result: Codable {
    public var preset: String?
    public var imagesPerSecond: Double
    public var msPerStep: Double
    public var msPerStepAll: [Double]
    public var device: String
    public var maskRatio: Double
    public var maskType: MaskType
    public var batchSize: Int
    public var parameters: Int
    public var peakMemoryBytes: Int
    public var compiled: Bool
    public var precision: Precision
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
      let model = try MaskedUViT(config.network, key: PRNGKey(seed: 0))
      var state = try TrainState(parameters: model.parameters())
      let step = try TrainingStep(model: model, diffusion: try config.diffusion(), config: config, names: state.names,
                                  mask: try config.maskSpec())
      let n = config.network
      let images = try Random.randint([config.batchSize, n.imageSize, n.imageSize, n.channels], low: 0, high: 256,
                                      key: PRNGKey(seed: 1)).astype(.uint8)
      try eval(images)
      try Memory.resetPeak()
      var times: [Double] = []
      for i in 0..<(warmup + steps) {
        let start = DispatchTime.now().uptimeNanoseconds
        let scalars = try Tensor((step.adam.scalars(lr: config.lr, step: i + 1) + [0.999]).map(Float.init))
        let (next, loss, _) = try step(state, images: images, key: PRNGKey(seed: UInt64(i)), scalars: scalars)
        if i == Swift.max(warmup - 1, 0), let census {  // a warm-up step: the walk is not timed
          census(try graphCensus(next.all + [loss]))
        }
        try eval(next.all + [loss])
        state = next
        if i >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
      }
      let median = times.sorted()[times.count / 2]
      return Result(
        preset: nil, imagesPerSecond: Double(config.batchSize) / (median / 1000), msPerStep: median, msPerStepAll: times,
        device: Engine.device.rawValue, maskRatio: config.dataset.maskRatio, maskType: config.dataset.mask.type,
        batchSize: config.batchSize, parameters: state.parameterCount, peakMemoryBytes: Memory.peak,
        compiled: config.compile, precision: config.precision, linearProduct: Engine.linearProduct,
        cpuPath: Engine.cpuPath, openblasCore: Engine.openBLASCore)
    }
  }
}
