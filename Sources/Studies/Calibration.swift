// Time budgets that do not depend on the machine's load. A `compare: time` plan gives each stage
// seconds of training; before anything trains, each distinct stage setting is timed by a short run of
// the real training loop (its data, EMA, logging and compiled step, timed the way a stage's training
// time is: every step after the first) and its seconds become a step count. A benchmark on random
// images ran 10-20% away from the loop (masked stages slower in the loop, unmasked faster), enough to
// give one side of a comparison more compute than the other. The rates are written
// to the study directory (`calibration.json`), so every seed and every rerun trains the same steps; a
// plan may carry them (`calibration:`), so that a study repeats on another machine with the same steps.
import Engine
import Foundation
import Training
import Yams

/// The measured training speed of each stage setting, keyed by `speedSignature`.
public struct Calibration: Codable, Equatable, Sendable {
  /// One stage setting's speed.
  public struct Entry: Codable, Equatable, Sendable {
    public var stepsPerSecond: Double
    /// `measured` (on this machine, into calibration.json) or `plan` (given by the plan).
    public var source: String
    /// Where it was measured: CPU model (or GPU), cores, matrix product path.
    public var machine: String?
    /// Timed steps (after warm-up) the median came from.
    public var timedSteps: Int?

    public init(stepsPerSecond: Double, source: String, machine: String? = nil, timedSteps: Int? = nil) {
      (self.stepsPerSecond, self.source, self.machine, self.timedSteps) = (stepsPerSecond, source, machine, timedSteps)
    }
  }

  public var entries: [String: Entry]
  /// What the plan says of where its rates come from (`calibration.measured_on`).
  public var measuredOn: String?

  public init(entries: [String: Entry] = [:], measuredOn: String? = nil) {
    (self.entries, self.measuredOn) = (entries, measuredOn)
  }

  /// The steps that `seconds` of training buy at the rate of `config`'s setting (at least 1); nil when
  /// that setting has not been calibrated.
  public func steps(for config: TrainConfig, seconds: Double) -> Int? {
    entries[speedSignature(config)].map { max(1, Int(($0.stepsPerSecond * seconds).rounded())) }
  }

  /// The step rates a plan or calibration.json may give: positive, and far above any machine's (so
  /// that a time budget times a rate stays a whole number of steps).
  static let rateRange = Double.leastNonzeroMagnitude...1e6

  /// The plan's `calibration:` block: `{measured_on: TEXT, steps_per_second: {SIGNATURE: RATE, ...}}`.
  static func read(_ node: Node?) throws -> Calibration? {
    guard let node, !node.isNullNode else { return nil }
    let m = try PlanMapping(node, path: "calibration", allowed: ["measured_on", "steps_per_second"])
    guard let rates = m["steps_per_second"]?.mapping else {
      throw PlanError("calibration.steps_per_second must map stage settings (as `maskdm study run --dry-run` lists them) to steps per second")
    }
    var entries: [String: Entry] = [:]
    for (k, v) in rates {
      guard let key = k.string, let rate = v.float, Self.rateRange.contains(rate) else {
        throw PlanError("calibration.steps_per_second.\(k.string ?? "?"): a positive number of steps per second, at most 10^6 (got \(v.text))")
      }
      entries[key] = Entry(stepsPerSecond: rate, source: "plan", machine: try m.string("measured_on"))
    }
    return Calibration(entries: entries, measuredOn: try m.string("measured_on"))
  }

  /// The rates on record for `plan` in `directory`: the plan's own first, then the study directory's
  /// `calibration.json` for the settings the plan does not give.
  public static func recorded(for plan: StudyPlan, in directory: StudyDirectory) throws -> Calibration {
    var calibration = plan.calibration ?? Calibration()
    for (k, v) in directory.read(Calibration.self, at: directory.calibration)?.entries ?? [:] where calibration.entries[k] == nil {
      guard rateRange.contains(v.stepsPerSecond) else {
        throw PlanError("\(directory.calibration.path): the rate of \(k) is \(v.stepsPerSecond) steps per second, not a positive number "
                          + "up to 10^6; delete the file (or run with --recalibrate) to measure it again")
      }
      calibration.entries[k] = v
    }
    return calibration
  }

  /// The block a plan can carry to train these steps anywhere.
  public var planYAML: String {
    var out = "calibration:\n  measured_on: \"\(measuredOn ?? entries.values.compactMap(\.machine).first ?? "unknown")\"\n  steps_per_second:\n"
    for key in entries.keys.sorted() { out += "    \"\(key)\": \(String(format: "%.4g", entries[key]!.stepsPerSecond))\n" }
    return out
  }
}

/// What decides a training step's speed, in words: image and patch size, channels, width, depth,
/// heads, MLP ratio, batch, the mask (kind and ratio), precision, device and compilation. Settings that
/// do not change the work of a step (seed, learning rate, objective, schedule, position embedding,
/// which images) are left out, so stages that differ only in them share one calibration.
public func speedSignature(_ c: TrainConfig) -> String {
  let n = c.network
  var mask = "unmasked"
  if c.isMasked {
    mask = "\(c.dataset.maskType) \(String(format: "%g", c.dataset.maskRatio))"
    if c.dataset.maskType == .block { mask += " b\(c.dataset.maskBlockSize)" }
    if c.dataset.maskType == .crop { mask += " c\(c.dataset.maskCropSize)" }
  }
  return "\(n.imageSize)px p\(n.patchSize) c\(n.channels) d\(n.embedDim)x\(n.depth) h\(n.numHeads) "
    + "mlp\(String(format: "%g", n.mlpRatio)) batch \(c.batchSize), \(mask), \(c.precision) \(c.device)\(c.compile ? "" : " eager")"
}

/// Times stage settings for a plan.
public struct Calibrator {
  /// Seconds of timed training per setting at most (steps after the first, which compiles and is not
  /// training time in a stage either): long enough to average over a machine's moment-to-moment speed
  /// (150 steps, 3 s of a masked setting, gave rates 48.6, 51.0 and 59.5 steps/s in three runs on a quiet
  /// 2-core box). A setting whose stages are shorter is timed for its longest stage's budget (at least 1 s).
  public var timedSeconds = 20.0
  /// Steps timed at most (a fast setting stops here before its seconds).
  public var maximumSteps = 5000

  public init() {}

  /// The rate of `config`'s setting on this machine, from a short run of the training loop in a
  /// scratch run directory under `scratch` (removed afterwards).
  public func measure(_ config: TrainConfig, seconds: Double? = nil, scratch: URL) throws -> Calibration.Entry {
    var c = config
    let timed = min(timedSeconds, max(1, seconds ?? timedSeconds))
    (c.trainSteps, c.trainSeconds, c.pretrainedModelCkpt, c.snapshotEvery) = (maximumSteps + 1, timed, "", nil)
    let run = scratch.appendingPathComponent(".calibration-\(ProcessInfo.processInfo.processIdentifier)")
    try? FileManager.default.removeItem(at: run)
    defer { try? FileManager.default.removeItem(at: run) }
    let summary = try Trainer(config: c, runDirectory: run).train(resume: false) { _ in }
    guard summary.trainSeconds > 0, summary.steps > 1 else {
      throw PlanError("the calibration run of \(speedSignature(config)) trained no timed step; check the stage's settings")
    }
    return .init(stepsPerSecond: Double(summary.steps - 1) / summary.trainSeconds, source: "measured",
                 machine: "\(MachineInfo.current.summary), \(Engine.cpuMatrixProduct) products, training loop", timedSteps: summary.steps - 1)
  }

  /// The calibration a study runs with: the plan's rates, then those on record in the study directory
  /// (unless `recalibrate`), and every setting still missing measured now and recorded.
  public func calibration(for experiment: Experiment, directory: StudyDirectory, recalibrate: Bool,
                          progress: (String, Calibration.Entry?) -> Void) throws -> Calibration {
    var calibration = recalibrate ? Calibration() : try Calibration.recorded(for: experiment.plan, in: directory)
    var measuredAny = false
    for config in experiment.timedSettings where calibration.entries[speedSignature(config)] == nil {
      progress(speedSignature(config), nil)
      let longest = experiment.uniqueStages.filter { speedSignature($0.config) == speedSignature(config) }.compactMap(\.budgetSeconds).max()
      let entry = try measure(config, seconds: longest, scratch: directory.url)
      calibration.entries[speedSignature(config)] = entry
      progress(speedSignature(config), entry)
      measuredAny = true
    }
    if measuredAny || recalibrate || !FileManager.default.fileExists(atPath: directory.calibration.path) {
      try directory.write(calibration, to: directory.calibration)
    }
    return calibration
  }
}
