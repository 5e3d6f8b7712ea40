// `maskdm sample RUN_DIR|WEIGHTS -n N [--out DIR] [--grid FILE] [--raw] [--sampler NAME --steps S --eta E]
//  [--class K ... | --class all] [--guidance W]`
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
  @OptionGroup var samplerOptions: SamplerOptions
  @Option(name: .customLong("class"), parsing: .singleValue,
          help: "Class-conditional models: draw this class (repeatable; `all` for every class, the grid then one row per class).")
  var classes: [String] = []
  @Option(help: "Classifier-free guidance scale w (cond + w (cond - uncond); 0: none). Needs --class.")
  var guidance = 0.0
  @Option(help: "Images per batch (default: the device's: \(SamplingBatch.cpu) on the CPU, up to \(SamplingBatch.gpuMaximum) on a GPU as its memory allows).")
  var batchSize: Int?
  @Option(help: "Random seed.") var seed: UInt64 = 0

  func run() throws {
    guard out != nil || grid != nil else { throw ValidationError("give --out DIR and/or --grid FILE") }
    guard count >= 1 else { throw ValidationError("-n must be at least 1 image (got \(count))") }
    if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1 (got \(batchSize))") }
    if let out {
      // One PNG per image, `sample-NNNNN.png`: a new or empty folder, or one of earlier samples only.
      try OutputTarget.checkDirectory(URL(fileURLWithPath: out), flag: "--out", kind: "sample folder (one PNG per image; --grid FILE writes one image)") {
        $0.hasPrefix("sample-") && $0.hasSuffix(".png") && $0.dropFirst(7).dropLast(4).allSatisfy(\.isNumber)
      }
    }
    var job: SamplingJob
    if source.hasSuffix(".safetensors") {
      guard let config else { throw ValidationError("a weights file needs --config CONFIG.yaml") }
      let c = try loadConfig(config, overrides: [])
      job = SamplingJob(config: c, weights: URL(fileURLWithPath: source), count: count, sampler: c.sampler())
    } else {
      job = try .forRun(URL(fileURLWithPath: source), ema: !raw, count: count)
    }
    job.sampler = try samplerOptions.resolve(fallback: job.sampler, defaultSteps: job.config.samplingTimesteps,
                                             defaultEta: job.config.ddimSamplingEta)
    job.batchSize = batchSize
    job.seed = seed
    job.classes = try parseClasses(classes, numClasses: job.config.network.numClasses)
    job.guidance = guidance
    try job.validate()
    if grid != nil, let c = job.classes, c.count > 1, count % c.count != 0 {
      throw ValidationError("a grid with one row per class needs -n a multiple of the \(c.count) classes (got \(count))")
    }
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
    // With several classes, one row per class (the images come in class blocks).
    let columns = (job.classes?.count ?? 0) > 1 ? count / job.classes!.count : nil
    if let grid {
      try Engine.run { try writeGrid(try Tensor.concatenate(all), to: URL(fileURLWithPath: grid), columns: columns) }
    }
    print("wrote \(count) images (\(job.sampler.label)" + (job.classes.map { c in
      ", class" + (c.count > 1 ? "es " : " ") + c.map(String.init).joined(separator: ",") + String(format: ", guidance %g", guidance)
    } ?? "") + ")" + (out.map { " to \($0)" } ?? "") + (grid.map { ", grid \($0)" } ?? ""))
  }
}

/// `--class` values: class numbers, or `all` for 0..<numClasses; nil when none are given.
func parseClasses(_ values: [String], numClasses: Int) throws -> [Int]? {
  guard !values.isEmpty else { return nil }
  if values.contains(where: { $0.lowercased() == "all" }) {
    guard values.count == 1 else { throw ValidationError("--class all stands alone; drop the other --class values") }
    guard numClasses > 0 else {
      throw ValidationError("--class all: this model is unconditional (network.num_classes \(numClasses)); drop --class")
    }
    return Array(0..<numClasses)
  }
  return try values.map { v in
    guard let k = Int(v) else { throw ValidationError("--class takes a class number or `all` (got \(v))") }
    return k
  }
}
