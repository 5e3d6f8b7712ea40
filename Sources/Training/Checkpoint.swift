// Checkpoints: everything a run needs to continue bit-identically — weights, EMA weights, AdamW
// moments, the step, the seed and data-loader position — written atomically (see RunDirectory).
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The scalar state of a run, stored as `state.json` beside the tensors.
public struct RunProgress: Codable, Equatable, Sendable {
  public var step = 0
  public var seed: UInt64 = 0
  /// The data loader's position after the last batch consumed.
  public var loaderEpoch = 0
  public var loaderIndex = 0
  /// How many times the EMA's `update()` ran.
  public var emaUpdates = 0
  /// Seconds spent training so far (excluding sampling and checkpoints), across resumes.
  public var trainSeconds = 0.0
  /// trainSeconds × devices: device-seconds (GPU-seconds where a GPU is used).
  public var deviceSeconds = 0.0
  /// Images of the timed steps (those in trainSeconds).
  public var imagesSeen = 0
  /// Seconds of the first step after each start or resume: tracing the step and compiling its
  /// kernels, a one-time cost kept out of trainSeconds so that time budgets compare training itself.
  public var warmupSeconds: Double? = nil
  public var lastLoss: Double? = nil
  public var device = "cpu"
  public var format = 1
  public init() {}
}

/// One checkpoint in memory.
public struct Checkpoint {
  public var model: Parameters
  public var ema: Parameters
  public var adamM: Parameters
  public var adamV: Parameters
  public var state: RunProgress

  public init(model: Parameters, ema: Parameters, adamM: Parameters, adamV: Parameters, state: RunProgress) {
    self.model = model
    self.ema = ema
    self.adamM = adamM
    self.adamV = adamV
    self.state = state
  }

  /// Writes `checkpoints/step-N/` atomically, points `latest` at it and keeps the newest `keep`.
  @discardableResult
  public func save(in run: RunDirectory, keep: Int = 2) throws -> URL {
    let name = String(format: "step-%08d", state.step)
    let final = run.checkpoints.appendingPathComponent(name)
    let tmp = run.checkpoints.appendingPathComponent(".\(name).tmp")
    let fm = FileManager.default
    try? fm.removeItem(at: tmp)
    try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
    let optimizer = Parameters(uniqueKeysWithValues:
      adamM.map { ("m.\($0.key)", $0.value) } + adamV.map { ("v.\($0.key)", $0.value) })
    let meta = ["format": "maskdm-checkpoint", "step": "\(state.step)"]
    do {
      try writeDurably(SafetensorsFile(tensors: model, metadata: meta).encoded(), to: tmp.appendingPathComponent("model.safetensors"))
      try writeDurably(SafetensorsFile(tensors: ema, metadata: meta).encoded(), to: tmp.appendingPathComponent("ema.safetensors"))
      try writeDurably(SafetensorsFile(tensors: optimizer, metadata: meta).encoded(), to: tmp.appendingPathComponent("optimizer.safetensors"))
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try writeDurably(try encoder.encode(state), to: tmp.appendingPathComponent("state.json"))
    } catch {
      try? fm.removeItem(at: tmp)
      throw FileSystemError("could not write the checkpoint of step \(state.step): \(error); the previous checkpoint at \(run.latest.path) is intact")
    }
    fsyncDirectory(tmp)
    if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
    guard rename(tmp.path, final.path) == 0 else {
      throw FileSystemError("cannot move the checkpoint into place: \(String(cString: strerror(errno)))")
    }
    fsyncDirectory(run.checkpoints)
    try run.pointLatest(at: final)
    let all = ((try? fm.contentsOfDirectory(atPath: run.checkpoints.path)) ?? [])
      .filter { $0.hasPrefix("step-") }.sorted()
    for old in all.dropLast(keep) { try? fm.removeItem(at: run.checkpoints.appendingPathComponent(old)) }
    return final
  }

  /// Reads a checkpoint directory.
  public static func load(_ directory: URL) throws -> Checkpoint {
    let stateURL = directory.appendingPathComponent("state.json")
    guard let data = try? Data(contentsOf: stateURL) else {
      throw ConfigError("\(directory.path) holds no checkpoint (state.json is missing)")
    }
    let state: RunProgress
    do { state = try JSONDecoder().decode(RunProgress.self, from: data) } catch {
      throw ConfigError("\(stateURL.path) is damaged (\(error)); resume from an earlier checkpoint or start over")
    }
    let model = try SafetensorsFile.load(directory.appendingPathComponent("model.safetensors")).tensors
    let ema = try SafetensorsFile.load(directory.appendingPathComponent("ema.safetensors")).tensors
    let optimizer = try SafetensorsFile.load(directory.appendingPathComponent("optimizer.safetensors")).tensors
    var m = Parameters(), v = Parameters()
    for (k, t) in optimizer {
      if k.hasPrefix("m.") { m[String(k.dropFirst(2))] = t } else if k.hasPrefix("v.") { v[String(k.dropFirst(2))] = t }
    }
    return Checkpoint(model: model, ema: ema, adamM: m, adamV: v, state: state)
  }
}

/// The non-EMA weights to initialise fine-tuning from: a run directory (its `latest` checkpoint), a
/// checkpoint directory, or a `.safetensors` file.
public func initialWeights(from url: URL) throws -> Parameters {
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
    throw ConfigError("pretrained weights not found at \(url.path): give a run directory or a .safetensors file")
  }
  if !isDir.boolValue { return try SafetensorsFile.load(url).tensors }
  let run = RunDirectory(url)
  if let latest = run.latestCheckpoint {
    return try SafetensorsFile.load(latest.appendingPathComponent("model.safetensors")).tensors
  }
  let direct = url.appendingPathComponent("model.safetensors")
  if FileManager.default.fileExists(atPath: direct.path) { return try SafetensorsFile.load(direct).tensors }
  throw ConfigError("\(url.path) holds no finished checkpoint (no latest/model.safetensors); train it first")
}
