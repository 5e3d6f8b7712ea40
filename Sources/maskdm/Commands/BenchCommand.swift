// `maskdm bench …`: throughput benchmarks that print one JSON object (for scripts) or a line.
import ArgumentParser
import Engine
import Foundation
import Evaluation
import MaskDM
import Training

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Measure throughput.",
    subcommands: [BenchGemm.self, BenchTrain.self, BenchSample.self, BenchFID.self])
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
  @Option(help: "Device: cpu, gpu or auto.") var device: DeviceChoice = .auto
  @Flag(help: "Print one JSON object instead of a line of text.") var json = false
}

extension DeviceChoice: ExpressibleByArgument {}
extension MaskType: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

struct BenchGemm: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "float32 matrix product a bᵀ, a (m, k) and b (n, k): MLX's matmul and the Linear layers' product.",
    discussion: """
      On the CPU, MLX's matmul calls OpenBLAS; Linear layers use this project's AVX-512 or AVX2 product, \
      the widest the CPU has (MASKDM_ISA=avx512|avx2|generic forces a path; generic, or the older \
      MASKDM_GEMM=blas, sends them to OpenBLAS too). The two are timed \
      alternately in one run. The s32 model's forward products are m = 512 (90% masked) or 4160 \
      (unmasked) rows with (n, k) = (768, 256), (1024, 256), (256, 1024).
      """)

  @Option(help: "m, n and k when not given one by one.") var size = 1024
  @Option(help: "Rows of a and of the product.") var m: Int?
  @Option(help: "Rows of b: columns of the product.") var n: Int?
  @Option(help: "The summed dimension.") var k: Int?
  @Option(help: "Timed repetitions (after two warm-up runs).") var repeats = 20
  @OptionGroup var common: BenchOptions

  func validate() throws {
    guard [size, m ?? 1, n ?? 1, k ?? 1].allSatisfy({ $0 > 0 }), repeats > 0 else {
      throw ValidationError("sizes and --repeats must be positive")
    }
  }

  func run() throws {
    let (m, n, k) = (self.m ?? size, self.n ?? size, self.k ?? size)
    let result = try Engine.run { () -> [String: Any] in
      let device = try Engine.select(common.device)
      let keys = try PRNGKey(seed: 0).split(2)
      let a = try Random.normal([m, k], key: keys[0])
      let b = try Random.normal([n, k], key: keys[1])
      try eval(a, b)
      let products: [() throws -> Tensor] = [{ try a.matmul(b.transposed()) }, { try Tensor.linear(a, weight: b, bias: nil) }]
      for product in products { for _ in 0..<2 { try eval(product()) } }
      var times: [[Double]] = [[], []]
      for _ in 0..<repeats {
        for (i, product) in products.enumerated() {
          let start = DispatchTime.now().uptimeNanoseconds
          try eval(product())
          times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
      }
      let gflops = times.map { t -> Double in
        let median = t.sorted()[t.count / 2]
        return (2 * Double(m) * Double(n) * Double(k) / median / 1e9 * 10).rounded() / 10
      }
      return ["benchmark": "gemm", "m": m, "n": n, "k": k, "gflops": gflops[0], "gflops_linear": gflops[1],
              "linear_product": Engine.linearProduct, "cpu_path": Engine.cpuPath, "repeats": repeats,
              "device": device.rawValue, "mlx": Engine.mlxVersion]
    }
    if common.json {
      let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print("gemm \(m)x\(n)x\(k) float32 on \(result["device"]!): matmul \(result["gflops"]!) GFLOP/s, "
            + "Linear (\(result["linear_product"]!)) \(result["gflops_linear"]!) GFLOP/s (medians of \(repeats))")
    }
  }
}

struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train", abstract: "The full training step (forward, backward, AdamW, EMA) on random data.")

  @Option(help: "s32 (32px, dim 256, depth 13, batch 64), celeba64 (the paper's 64px model, batch 128), tiny, or quick (the studies' CPU model: 32px, 1 channel, dim 64, depth 5, batch 64) (ModelConfig's presets).")
  var preset: String?
  @Option(help: ArgumentHelp("A training configuration (YAML) to time instead of a preset: its model, batch, mask, precision and compilation.",
                             valueName: "config.yaml"))
  var config: String?
  @Option(help: "patch, block or crop.") var maskType: MaskType?
  @Option(help: "Mask ratio in [0, 1); 0 trains on whole images.") var maskRatio: Double?
  @Option(help: "Block size (patches) for block masks.") var blockSize: Int?
  @Option(help: "Timed steps (after the warm-up steps).") var steps = 20
  @Option(help: "Untimed warm-up steps (tracing, compilation).") var warmup = 3
  @Option(help: "Override the batch size.") var batchSize: Int?
  @Flag(inversion: .prefixedNo, help: "Trace and fuse the step with MLX compile (default: on, or the configuration's).") var compile: Bool?
  @Option(help: "fp32, or bf16 mixed precision (bf16 matmuls; float32 master weights, LayerNorm, softmax, loss); default fp32, or the configuration's.")
  var precision: Precision?
  @Flag(help: "Print the nodes of one step's graph by MLX primitive, to stderr.") var graph = false
  @OptionGroup var common: BenchOptions

  func validate() throws {
    // A median of no steps is no throughput (the JSON encoder would meet an infinity).
    guard steps > 0 else { throw ValidationError("--steps must be at least 1 (got \(steps))") }
    guard warmup >= 0 else { throw ValidationError("--warmup cannot be negative (got \(warmup))") }
    if let batchSize, batchSize <= 0 { throw ValidationError("--batch-size must be positive (got \(batchSize))") }
    if config != nil, preset != nil || maskType != nil || maskRatio != nil || blockSize != nil {
      throw ValidationError("--config times that configuration's model and mask: leave out --preset, --mask-type, --mask-ratio and --block-size (edit the file instead)")
    }
  }

  func run() throws {
    var bench: TrainingBenchmark
    if let config {
      bench = TrainingBenchmark(config: try TrainConfig(contentsOf: URL(fileURLWithPath: config)))
    } else {
      bench = try TrainingBenchmark(preset: preset ?? "s32", maskType: maskType ?? .patch, maskRatio: maskRatio ?? 0, blockSize: blockSize ?? 2)
      (bench.config.compile, bench.config.precision) = (true, .fp32)
    }
    if let compile { bench.config.compile = compile }
    if let precision { bench.config.precision = precision }
    bench.steps = steps
    bench.warmup = warmup
    if let batchSize { bench.config.batchSize = batchSize }
    if graph {
      bench.census = { counts in
        let lines = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { String(format: "%6d  %@", $0.value, $0.key) }
        FileHandle.standardError.write(Data((["\(counts.values.reduce(0, +)) nodes in one step:"] + lines).joined(separator: "\n").utf8 + [10]))
      }
    }
    try bench.config.validate()
    try Engine.select(common.device)
    var result = try bench.run()
    let name = config.map { URL(fileURLWithPath: $0).lastPathComponent } ?? preset ?? "s32"
    result.preset = name
    if common.json {
      try printJSON(result)
    } else {
      let d = bench.config.dataset
      print(String(format: "train %@ mask %@ %.2f %@: %.1f img/s, %.1f ms/step (median of %d, batch %d) on %@",
                   name, d.mask.type.rawValue, d.maskRatio, bench.config.precision.rawValue, result.imagesPerSecond, result.msPerStep, steps,
                   result.batchSize, result.device))
    }
  }
}

struct BenchSample: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sample", abstract: "Sampling throughput (img/s) of a preset's (or a configuration's) model under a sampler and step count.",
    discussion: """
      The model has random weights (the arithmetic does not depend on them) and samples through the same \
      path as `maskdm sample` and FID: one compiled network evaluation per step. The first batch (tracing) \
      is not timed. With --guidance the model is class-conditional (10 classes) and each step evaluates \
      the doubled batch.
      """)

  @Option(help: "s32, celeba64, tiny or quick (ModelConfig's presets; default s32).") var preset: String?
  @Option(help: ArgumentHelp("A training configuration (YAML) whose model to sample instead of a preset's.", valueName: "config.yaml"))
  var config: String?
  @OptionGroup var samplerOptions: SamplerOptions
  @Option(help: "Images per batch (default: the device's: \(SamplingBatch.cpu) on the CPU, up to \(SamplingBatch.gpuMaximum) on a GPU as its memory allows).")
  var batchSize: Int?
  @Option(help: "Timed batches (after one untimed batch).") var batches = 2
  @Option(help: "Classifier-free guidance scale (0: an unconditional model).") var guidance = 0.0
  @OptionGroup var common: BenchOptions

  func validate() throws {
    guard (batchSize ?? 1) > 0, batches > 0 else { throw ValidationError("--batch-size and --batches must be positive") }
    if config != nil, preset != nil {
      throw ValidationError("--config samples that configuration's model: leave out --preset")
    }
  }

  func run() throws {
    var bench: SamplingBenchmark
    if let config {
      // A configuration's own sampler and steps unless the options name others, as `maskdm sample`.
      let trainConfig = try TrainConfig(contentsOf: URL(fileURLWithPath: config))
      let sampler = try samplerOptions.resolve(fallback: trainConfig.sampler(), defaultSteps: trainConfig.samplingTimesteps,
                                               defaultEta: trainConfig.ddimSamplingEta)
      bench = SamplingBenchmark(config: trainConfig, sampler: sampler, batchSize: batchSize)
    } else {
      let sampler = try samplerOptions.resolve(fallback: .ddim(steps: 50, eta: 0), defaultSteps: 50, defaultEta: 0)
      bench = try SamplingBenchmark(preset: preset ?? "s32", sampler: sampler, batchSize: batchSize)
    }
    let sampler = bench.sampler
    let name = config.map { URL(fileURLWithPath: $0).lastPathComponent } ?? preset ?? "s32"
    bench.batches = batches
    bench.config.device = common.device
    if guidance != 0 {
      bench.config.network.numClasses = 10
      bench.classes = Array(0..<min(10, (batchSize ?? SamplingBatch.cpu) * (batches + 1)))  // each class once at least, in blocks
      bench.guidance = guidance
    }
    var result = try bench.run()
    result.preset = name
    if common.json {
      try printJSON(result)
    } else {
      print(String(format: "sample %@ %@%@: %.2f img/s (%d images in batches of %d after one untimed batch) on %@",
                   name, sampler.label, guidance != 0 ? String(format: ", guidance %g", guidance) : "",
                   result.imagesPerSecond, result.images, result.batchSize, result.device))
    }
  }
}

struct BenchFID: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fid", abstract: "Inception-v3 (TF-FID) feature extraction, resize included, on random uint8 images.")

  @Option(help: "Images per batch.") var batch = 16
  @Option(help: "Side of the input images (they are resized to 299).") var size = 32
  @Option(help: "Timed batches (after one warm-up batch).") var repeats = 3
  @Flag(help: "Also time each stage of the network alone (medians over the repeats), to stderr.") var stages = false
  @OptionGroup var common: BenchOptions

  func validate() throws {
    guard batch > 0, size > 0, repeats > 0 else {
      throw ValidationError("--batch, --size and --repeats must be positive")
    }
  }

  func run() throws {
    try Engine.select(common.device)
    let extractor = try InceptionFeatureExtractor()
    var rng = SystemRandomNumberGenerator()
    let pixels = (0..<(batch * size * size * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    _ = try extractor.features(images: pixels, count: batch, height: size, width: size, channels: 3)
    if stages {
      let runs = try (0..<repeats).map { _ in
        try extractor.stageSeconds(images: pixels, count: batch, height: size, width: size, channels: 3)
      }
      let medians = runs[0].indices.map { i in runs.map { $0[i].1 }.sorted()[repeats / 2] }
      let total = medians.reduce(0, +)
      for (stage, median) in zip(runs[0], medians) {
        FileHandle.standardError.write(Data(String(format: "%8.2f ms %5.1f%%  %@\n", median * 1000, 100 * median / total, stage.0).utf8))
      }
    }
    var times: [Double] = []
    for _ in 0..<repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try extractor.features(images: pixels, count: batch, height: size, width: size, channels: 3)
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let median = times.sorted()[times.count / 2]
    let result: [String: Any] = ["benchmark": "fid", "images_per_second": Double(batch) / median, "batch": batch,
                                 "seconds_per_batch": median, "device": Engine.device.rawValue,
                                 "cpu_path": Engine.cpuPath, "openblas_core": Engine.openBLASCore ?? NSNull()]
    if common.json {
      print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    } else {
      print(String(format: "fid features: %.2f img/s (batch %d, median of %d) on %@", Double(batch) / median, batch, repeats, Engine.device.rawValue))
    }
  }
}

/// One benchmark result as a line of JSON (snake_case keys, sorted), what `--json` prints.
func printJSON<T: Encodable>(_ value: T) throws {
  let encoder = JSONEncoder()
  encoder.keyEncodingStrategy = .convertToSnakeCase
  encoder.outputFormatting = [.sortedKeys]
  print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
