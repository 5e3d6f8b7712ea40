// `maskdm bench …`: throughput benchmarks that print one JSON object (for scripts) or a line.
import ArgumentParser
import Engine
import Foundation
import Evaluation
import Training

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Measure throughput.",
    subcommands: [BenchGemm.self, BenchTrain.self, BenchFID.self])
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
  @Option(help: "Device: cpu, gpu or auto.") var device: DeviceChoice = .auto
  @Flag(help: "Print one JSON object instead of a line of text.") var json = false
}

extension DeviceChoice: ExpressibleByArgument {}

struct BenchGemm: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "float32 matrix multiply of two size x size matrices: MLX's matmul and the Linear layers' product.",
    discussion: """
      On the CPU, MLX's matmul calls OpenBLAS; Linear layers (a times bᵀ) use this project's AVX-512 \
      product where the CPU has AVX-512F (MASKDM_GEMM=blas sends them to OpenBLAS too). The two are \
      timed alternately in one run.
      """)

  @Option(help: "Matrix size.") var size = 1024
  @Option(help: "Timed repetitions (after two warm-up runs).") var repeats = 20
  @OptionGroup var common: BenchOptions

  func run() throws {
    let result = try Engine.run { () -> [String: Any] in
      let device = try Engine.select(common.device)
      let keys = try PRNGKey(seed: 0).split(2)
      let a = try Random.normal([size, size], key: keys[0])
      let b = try Random.normal([size, size], key: keys[1])
      try eval(a, b)
      let products: [() throws -> Tensor] = [{ try a.matmul(b) }, { try Tensor.linear(a, weight: b, bias: nil) }]
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
        return (2 * pow(Double(size), 3) / median / 1e9 * 10).rounded() / 10
      }
      return ["benchmark": "gemm", "size": size, "gflops": gflops[0], "gflops_linear": gflops[1],
              "repeats": repeats, "device": device.rawValue, "mlx": Engine.mlxVersion]
    }
    if common.json {
      let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print("gemm \(size)x\(size) float32 on \(result["device"]!): matmul \(result["gflops"]!) GFLOP/s, "
            + "Linear \(result["gflops_linear"]!) GFLOP/s (medians of \(repeats))")
    }
  }
}

struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train", abstract: "The full training step (forward, backward, AdamW, EMA) on random data.")

  @Option(help: "s32 (32px, dim 256, depth 13, batch 64), celeba64 (the paper's 64px model, batch 128) or tiny.")
  var preset = "s32"
  @Option(help: "patch, block or crop.") var maskType = "patch"
  @Option(help: "Mask ratio in [0, 1); 0 trains on whole images.") var maskRatio = 0.0
  @Option(help: "Block size (patches) for block masks.") var blockSize = 2
  @Option(help: "Timed steps (after the warm-up steps).") var steps = 20
  @Option(help: "Untimed warm-up steps (tracing, compilation).") var warmup = 3
  @Option(help: "Override the batch size.") var batchSize: Int?
  @Flag(inversion: .prefixedNo, help: "Trace and fuse the step with MLX compile.") var compile = true
  @Option(help: "fp32, or bf16 mixed precision (bf16 matmuls; float32 master weights, LayerNorm, softmax, loss).")
  var precision = "fp32"
  @OptionGroup var common: BenchOptions

  func run() throws {
    var bench = try TrainingBenchmark(preset: preset, maskType: maskType, maskRatio: maskRatio, blockSize: blockSize)
    bench.steps = steps
    bench.warmup = warmup
    bench.config.compile = compile
    bench.config.precision = precision
    if let batchSize { bench.config.batchSize = batchSize }
    try bench.config.validate()
    try Engine.select(common.device)
    var result = try bench.run()
    result.preset = preset
    if common.json {
      let encoder = JSONEncoder()
      encoder.keyEncodingStrategy = .convertToSnakeCase
      encoder.outputFormatting = [.sortedKeys]
      print(String(decoding: try encoder.encode(result), as: UTF8.self))
    } else {
      print(String(format: "train %@ mask %@ %.2f %@: %.1f img/s, %.1f ms/step (median of %d, batch %d) on %@",
                   preset, maskType, maskRatio, precision, result.imagesPerSecond, result.msPerStep, steps, result.batchSize, result.device))
    }
  }
}

struct BenchFID: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fid", abstract: "Inception-v3 (TF-FID) feature extraction, resize included, on random uint8 images.")

  @Option(help: "Images per batch.") var batch = 16
  @Option(help: "Side of the input images (they are resized to 299).") var size = 32
  @Option(help: "Timed batches (after one warm-up batch).") var repeats = 3
  @OptionGroup var common: BenchOptions

  func run() throws {
    try Engine.select(common.device)
    let extractor = try InceptionFeatureExtractor()
    var rng = SystemRandomNumberGenerator()
    let pixels = (0..<(batch * size * size * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    _ = try extractor.features(images: pixels, count: batch, height: size, width: size, channels: 3)
    var times: [Double] = []
    for _ in 0..<repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try extractor.features(images: pixels, count: batch, height: size, width: size, channels: 3)
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let median = times.sorted()[times.count / 2]
    let result: [String: Any] = ["benchmark": "fid", "images_per_second": Double(batch) / median, "batch": batch,
                                 "seconds_per_batch": median, "device": Engine.device.rawValue]
    if common.json {
      print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    } else {
      print(String(format: "fid features: %.2f img/s (batch %d, median of %d) on %@", Double(batch) / median, batch, repeats, Engine.device.rawValue))
    }
  }
}
