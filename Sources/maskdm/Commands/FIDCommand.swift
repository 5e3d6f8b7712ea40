// `maskdm fid stats PATH -o stats.npz` and `maskdm fid A B [--kid] [--json]` (TTUR protocol, or
// clean-fid's resize with `--resize clean`). A side may be a run directory: its EMA weights are sampled
// (`--samples N --sampler NAME --steps S`) and the samples measured as they are made, without writing them.
import ArgumentParser
import Engine
import Evaluation
import Foundation
import MaskDM
import Training

struct FIDCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fid", abstract: "FID (and KID) by the published TF-FID protocol.",
    discussion: "A and B are folders of images, prepared datasets, .npz statistics (pytorch-fid's mu/sigma format) or run directories, whose EMA weights are sampled (--samples, --sampler, --steps).",
    subcommands: [FIDCompare.self, FIDStats.self], defaultSubcommand: FIDCompare.self)
}

/// Features or statistics of one side.
enum FIDSide {
  case statistics(FeatureStatistics)
  case features([Float], FeatureStatistics)

  var statistics: FeatureStatistics {
    switch self {
    case let .statistics(s), let .features(_, s): return s
    }
  }

  /// `sampled(label)` is told how a run directory's images were drawn.
  static func load(_ path: String, extractor: () throws -> InceptionFeatureExtractor, batchSize: Int, limit: Int?,
                   sampling: FIDSampling? = nil, sampled: (String) -> Void = { _ in }) throws -> FIDSide {
    let url = URL(fileURLWithPath: path)
    if path.hasSuffix(".npz") { return .statistics(try FeatureStatistics.load(npz: url)) }
    if let sampling, FileManager.default.fileExists(atPath: RunDirectory(url).config.path) {
      return try self.sampled(url, extractor: try extractor(), sampling: sampling, label: sampled)
    }
    let (f, n) = try inceptionFeatures(try ImageSet.at(url, limit: limit), extractor: try extractor(), batchSize: batchSize) { done, total, rate in
      FileHandle.standardError.write(Data(String(format: "\r%@: %d/%d images (%.1f img/s)", url.lastPathComponent, done, total, rate).utf8))
    }
    FileHandle.standardError.write(Data("\n".utf8))
    return .features(f, FeatureStatistics(features: f, count: n))
  }

  /// Features of `sampling.count` images sampled from the EMA weights of the run at `url`.
  static func sampled(_ url: URL, extractor: InceptionFeatureExtractor, sampling: FIDSampling,
                      label: (String) -> Void) throws -> FIDSide {
    var job = try SamplingJob.forRun(url, ema: true, count: sampling.count)
    job.sampler = try sampling.sampler.resolve(fallback: job.sampler, defaultSteps: job.config.samplingTimesteps,
                                              defaultEta: job.config.ddimSamplingEta)
    label("\(url.lastPathComponent): \(job.sampler.label), EMA weights, seed \(sampling.seed)")
    job.batchSize = sampling.batchSize
    job.seed = sampling.seed
    var features: [Float] = []
    let start = Date()
    try job.run(consume: { images, _ in
      let (pixels, n, h, w, c) = try imageBytes(images)
      features += try extractor.features(images: pixels, count: n, height: h, width: w, channels: c)
    }, progress: { done, total in
      FileHandle.standardError.write(Data(String(format: "\r%@: sampled %d/%d (%@, %.2f img/s)", url.lastPathComponent, done, total,
                                                 job.sampler.label, Double(done) / Date().timeIntervalSince(start)).utf8))
    })
    FileHandle.standardError.write(Data("\n".utf8))
    return .features(features, FeatureStatistics(features: features, count: sampling.count))
  }
}

/// How a run directory given to `fid` is sampled.
struct FIDSampling {
  var count: Int
  var sampler: SamplerOptions
  /// nil: the device's (`SamplingBatch.automatic`).
  var batchSize: Int?
  var seed: UInt64
}

struct FIDOptions: ParsableArguments {
  @Option(help: "Images per Inception batch.") var batchSize = 16
  @Option(help: "Use at most this many images of a prepared dataset (at least 2: FID needs a covariance).") var limit: Int?
  @Option(help: "The TF-FID weights (default: .deps/fid/default_1.pt or $MASKDM_FID_WEIGHTS).") var weights: String?
  @Option(help: "Device for the network: cpu, gpu or auto (the statistics are float64 on the CPU).")
  var device: DeviceChoice = .auto
  @Option(help: "The resize to 299x299: ttur (TF1 bilinear, the TTUR protocol and the paper's) or clean (clean-fid's PIL bicubic with antialiasing).")
  var resize: FIDResize = .ttur

  /// The network with this resize.
  func extractor() throws -> InceptionFeatureExtractor {
    let e = try InceptionFeatureExtractor(weights: weights.map { URL(fileURLWithPath: $0) })
    e.resizeMode = resize
    return e
  }

  /// Refuses statistics taken with another resize than this command's (their FID would mix two protocols).
  func check(_ side: FIDSide, _ path: String) throws {
    if let r = side.statistics.resize, r != resize {
      throw ValidationError("\(path) holds statistics taken with the resize \(r.label); measure with --resize \(r.rawValue), or recompute them with --resize \(resize.rawValue)")
    }
  }

  func validate() throws {
    if let limit, limit < 2 {
      throw ValidationError("--limit must be at least 2 images (got \(limit)): FID needs a covariance, which one image does not have")
    }
  }
}

extension FIDResize: ExpressibleByArgument {}

struct FIDCompare: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "compare", abstract: "FID between A and B.")
  @Argument(help: "Folder, prepared dataset or .npz.") var a: String
  @Argument(help: "Folder, prepared dataset or .npz.") var b: String
  @Flag(help: "Also KID (needs images on both sides, not .npz).") var kid = false
  @Flag(help: "Print one JSON object.") var json = false
  @OptionGroup var options: FIDOptions
  @Option(help: "A run directory side: how many images to sample from its EMA weights (default 1000).") var samples: Int?
  @Option(help: "A run directory side: images per sampling batch (default: the device's, as for `sample`).") var sampleBatchSize: Int?
  @Option(help: "A run directory side: the sampling seed (default 0).") var seed: UInt64?
  @OptionGroup var samplerOptions: SamplerOptions

  func run() throws {
    try Engine.select(options.device)
    var cached: InceptionFeatureExtractor?
    let extractor = { () throws -> InceptionFeatureExtractor in
      if let cached { return cached }
      cached = try options.extractor()
      return cached!
    }
    let count = samples ?? 1000
    guard count >= 2 else { throw ValidationError("--samples must be at least 2 (FID needs a covariance)") }
    let runs = [a, b].filter { FileManager.default.fileExists(atPath: RunDirectory(URL(fileURLWithPath: $0)).config.path) }
    if runs.isEmpty, samplerOptions.isSet || samples != nil || sampleBatchSize != nil || seed != nil {
      throw ValidationError("--samples, --sampler, --steps, --eta, --seed and --sample-batch-size sample a run directory; neither A nor B is one (a run directory holds config.yaml)")
    }
    let sampling = FIDSampling(count: count, sampler: samplerOptions, batchSize: sampleBatchSize, seed: seed ?? 0)
    var samplers: [String] = []
    let sideA = try FIDSide.load(a, extractor: extractor, batchSize: options.batchSize, limit: options.limit, sampling: sampling) { samplers.append($0) }
    let sideB = try FIDSide.load(b, extractor: extractor, batchSize: options.batchSize, limit: options.limit, sampling: sampling) { samplers.append($0) }
    try options.check(sideA, a)
    try options.check(sideB, b)
    let fid = try frechetDistance(sideA.statistics, sideB.statistics)
    var result: [String: Any] = ["fid": fid, "count_a": sideA.statistics.count, "count_b": sideB.statistics.count,
                                 "resize": options.resize.rawValue]
    if !samplers.isEmpty { result["sampler"] = samplers.joined(separator: "; ") }
    if kid {
      guard case let .features(fa, _) = sideA, case let .features(fb, _) = sideB else {
        throw ValidationError("--kid needs images on both sides (.npz holds only mu and sigma)")
      }
      let k = kernelInceptionDistance(fa, fb)
      result["kid_mean"] = k.mean
      result["kid_std"] = k.std
    }
    if json {
      print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    } else {
      print(String(format: "FID %.4f (%d vs %d images", fid, sideA.statistics.count, sideB.statistics.count)
              + (samplers.isEmpty ? "" : ", sampled with \(samplers.joined(separator: "; "))") + "; resize \(options.resize.label))"
              + (kid ? String(format: ", KID %.5f ± %.5f", result["kid_mean"] as! Double, result["kid_std"] as! Double) : ""))
    }
  }
}

struct FIDStats: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "stats", abstract: "Save the mu/sigma statistics of PATH as .npz.")
  @Argument(help: "A folder of images or a prepared dataset.") var path: String
  @Option(name: .shortAndLong, help: "The .npz to write.") var out: String
  @OptionGroup var options: FIDOptions

  func run() throws {
    // Checked before the features are computed (minutes), not when the result is written.
    let target = URL(fileURLWithPath: out)
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory), isDirectory.boolValue {
      throw ValidationError("-o \(out) is a folder; give the .npz file to write, e.g. -o \(target.appendingPathComponent("stats.npz").path)")
    }
    // An existing file is replaced only when it is statistics (mu and sigma) already, never the input.
    try OutputTarget.checkFile(target, flag: "-o", kind: ".npz of FID statistics", inputs: [URL(fileURLWithPath: path)]) {
      (try? FeatureStatistics.load(npz: $0)) != nil
    }
    let folder = target.deletingLastPathComponent()
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ValidationError("-o \(out): the folder \(folder.path) does not exist; create it first")
    }
    try Engine.select(options.device)
    let extractor = try options.extractor()
    let side = try FIDSide.load(path, extractor: { extractor }, batchSize: options.batchSize, limit: options.limit)
    var statistics = side.statistics
    statistics.resize = options.resize
    try statistics.save(npz: URL(fileURLWithPath: out))
    print("\(statistics.count) images -> \(out) (resize \(options.resize.label))")
  }
}
