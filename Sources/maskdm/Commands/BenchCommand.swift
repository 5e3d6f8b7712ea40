// `maskdm bench …`: throughput benchmarks that print one JSON object (for scripts) or a line.
import ArgumentParser
import Engine
import Foundation

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Measure throughput.",
    subcommands: [BenchGemm.self])
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
  @Option(help: "Device: cpu, gpu or auto.") var device: DeviceChoice = .auto
  @Flag(help: "Print one JSON object instead of a line of text.") var json = false
}

extension DeviceChoice: ExpressibleByArgument {}

struct BenchGemm: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm", abstract: "float32 matrix multiply of two size x size matrices.")

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
      for _ in 0..<2 { try eval(a.matmul(b)) }
      var times: [Double] = []
      for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try eval(a.matmul(b))
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      }
      let median = times.sorted()[times.count / 2]
      let gflops = 2 * pow(Double(size), 3) / median / 1e9
      return ["benchmark": "gemm", "size": size, "gflops": (gflops * 10).rounded() / 10,
              "seconds_median": median, "repeats": repeats, "device": device.rawValue,
              "mlx": Engine.mlxVersion]
    }
    if common.json {
      let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print("gemm \(size)x\(size) float32 on \(result["device"]!): \(result["gflops"]!) GFLOP/s (median of \(repeats))")
    }
  }
}
