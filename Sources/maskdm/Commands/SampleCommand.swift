// `maskdm sample RUN_DIR|WEIGHTS -n N [--out DIR] [--grid FILE] [--raw] [--ddpm | --ddim-steps S --eta E]`
import ArgumentParser
import Engine
import Foundation
import MaskDM
import Training

struct SampleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sample", abstract: "Generate images from a trained run (EMA weights by default).")

  @Argument(help: "A run directory, or a .safetensors file (then --config is needed).") var source: String
  @Option(name: [.customShort("n"), .long], help: "How many images.") var count = 64
  @Option(name: .shortAndLong, help: "Write one PNG per image into this folder.") var out: String?
  @Option(help: "Write a grid of the images to this PNG file.") var grid: String?
  @Option(help: "The configuration, when SOURCE is a weights file.") var config: String?
  @Flag(help: "Use the raw (non-EMA) weights of a run.") var raw = false
  @Flag(help: "Ancestral DDPM sampling over all timesteps.") var ddpm = false
  @Option(help: "DDIM steps (default: the config's sampling_timesteps).") var ddimSteps: Int?
  @Option(help: "DDIM eta.") var eta: Double?
  @Option(help: "Images per batch.") var batchSize = 64
  @Option(help: "Random seed.") var seed: UInt64 = 0

  func run() throws {
    guard out != nil || grid != nil else { throw ValidationError("give --out DIR and/or --grid FILE") }
    guard count >= 1 else { throw ValidationError("-n must be at least 1 image (got \(count))") }
    guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize))") }
    var job: SamplingJob
    if source.hasSuffix(".safetensors") {
      guard let config else { throw ValidationError("a weights file needs --config CONFIG.yaml") }
      let c = try loadConfig(config, overrides: [])
      job = SamplingJob(config: c, weights: URL(fileURLWithPath: source), count: count, sampler: c.sampler())
    } else {
      job = try .forRun(URL(fileURLWithPath: source), ema: !raw, count: count)
    }
    if ddpm {
      job.sampler = .ddpm
    } else if ddimSteps != nil || eta != nil {
      job.sampler = .ddim(steps: ddimSteps ?? job.config.samplingTimesteps, eta: eta ?? job.config.ddimSamplingEta)
    }
    job.batchSize = batchSize
    job.seed = seed
    var all: [Tensor] = []
    let start = Date()
    try job.run(consume: { images, first in
      if let out { try writeImages(images, to: URL(fileURLWithPath: out), start: first) }
      if grid != nil { all.append(images) }
    }, progress: { done, total in
      FileHandle.standardError.write(Data(String(format: "\rsampled %d/%d (%.2f img/s)", done, total,
                                                 Double(done) / Date().timeIntervalSince(start)).utf8))
    })
    FileHandle.standardError.write(Data("\n".utf8))
    if let grid { try Engine.run { try writeGrid(try Tensor.concatenate(all), to: URL(fileURLWithPath: grid)) } }
    print("wrote \(count) images" + (out.map { " to \($0)" } ?? "") + (grid.map { ", grid \($0)" } ?? ""))
  }
}
