// Checkpoints: everything a run needs to continue bit-identically — weights, EMA weights, AdamW
// moments, the step, the seed and data-loader position — written atomically (see RunDirectory), with
// the SHA-256 of each tensor file in state.json, checked before it is read (see CheckpointIntegrity).
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
  /// 2: `checksums` are recorded (1: written before they were, read unchecked).
  public var format = 2
  /// SHA-256 (hexadecimal) of each tensor file of the checkpoint, by file name.
  public var checksums: [String: String]? = nil
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

  /// The tensor files of a checkpoint directory, each with its checksum in state.json.
  public static let tensorFiles = ["model.safetensors", "ema.safetensors", "optimizer.safetensors"]

  /// How many checkpoints a run keeps (the newest): one to fall back to when the newest is damaged.
  public static let keep = 2

  /// Writes `checkpoints/step-N/` atomically, points `latest` at it and keeps the newest `keep`.
  @discardableResult
  public func save(in run: RunDirectory, keep: Int = Checkpoint.keep) throws -> URL {
    let name = String(format: "step-%08d", state.step)
    let final = run.checkpoints.appendingPathComponent(name)
    let tmp = run.checkpoints.appendingPathComponent(".\(name).tmp")
    let fm = FileManager.default
    let previous = run.latestCheckpoint
    let optimizer = Parameters(uniqueKeysWithValues:
      adamM.map { ("m.\($0.key)", $0.value) } + adamV.map { ("v.\($0.key)", $0.value) })
    let meta = ["format": "maskdm-checkpoint", "step": "\(state.step)"]
    var recorded = state
    recorded.format = 2
    recorded.checksums = [:]
    do {
      try? fm.removeItem(at: tmp)
      try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
      for (file, tensors) in zip(Self.tensorFiles, [model, ema, optimizer]) {
        let data = try SafetensorsFile(tensors: tensors, metadata: meta).encoded()
        recorded.checksums![file] = sha256Hex(data)
        try writeDurably(data, to: tmp.appendingPathComponent(file))
      }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try writeDurably(try encoder.encode(recorded), to: tmp.appendingPathComponent("state.json"))
    } catch {
      try? fm.removeItem(at: tmp)
      let kept = previous.map { "the previous checkpoint (\($0.lastPathComponent)) is intact and --resume continues from it" }
        ?? "no earlier checkpoint exists, so a new run starts from the beginning"
      throw FileSystemError("could not write the checkpoint of step \(state.step): \(error); \(kept). "
                              + "Free disk space (or choose a run directory on another disk) and run the command again")
    }
    fsyncDirectory(tmp)
    if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
    guard rename(tmp.path, final.path) == 0 else {
      throw FileSystemError("cannot move the checkpoint into place: \(String(cString: strerror(errno)))")
    }
    fsyncDirectory(run.checkpoints)
    try run.pointLatest(at: final)
    for old in run.checkpointsNewestFirst.dropFirst(keep) { try? fm.removeItem(at: old) }
    return final
  }

  /// Reads a checkpoint directory, its files checked against their checksums first.
  public static func load(_ directory: URL) throws -> Checkpoint {
    let fm = FileManager.default
    guard fm.fileExists(atPath: directory.appendingPathComponent("state.json").path)
            || tensorFiles.contains(where: { fm.fileExists(atPath: directory.appendingPathComponent($0).path) }) else {
      throw ConfigError("\(directory.path) holds no checkpoint (state.json is missing)")
    }
    return try read(directory, state: try verify(directory))
  }

  /// Reads a checkpoint that passed `verify`.
  public static func load(_ checkpoint: VerifiedCheckpoint) throws -> Checkpoint {
    try read(checkpoint.directory, state: checkpoint.state)
  }

  private static func read(_ directory: URL, state: RunProgress) throws -> Checkpoint {
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

/// The non-EMA weights to initialise fine-tuning from: a run directory (its newest intact
/// checkpoint; `notice` says when a damaged newer one is passed over), a checkpoint directory, or a
/// `.safetensors` file (checked against its checkpoint's checksum when it is one of a checkpoint's files).
public func initialWeights(from url: URL, notice: (String) -> Void = { _ in }) throws -> Parameters {
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
    throw ConfigError("pretrained weights not found at \(url.path): give a run directory or a .safetensors file")
  }
  if !isDir.boolValue { return try loadVerifiedTensors(url) }
  let run = RunDirectory(url)
  if run.hasCheckpoint {
    let (intact, damaged) = run.newestIntactCheckpoint()
    guard let intact else { throw CheckpointDamage.noneIntact(damaged, in: run, forInitialisation: true) }
    if !damaged.isEmpty {
      notice("\(damaged.map(\.description).joined(separator: "; ")); initialising from \(intact.directory.lastPathComponent) "
                + "(step \(intact.state.step)), the newest intact checkpoint of \(run.url.path)")
    }
    return try SafetensorsFile.load(intact.directory.appendingPathComponent("model.safetensors")).tensors
  }
  let direct = url.appendingPathComponent("model.safetensors")
  if FileManager.default.fileExists(atPath: direct.path) { return try loadVerifiedTensors(direct) }
  throw ConfigError("\(url.path) holds no finished checkpoint (no latest/model.safetensors); train it first")
}
