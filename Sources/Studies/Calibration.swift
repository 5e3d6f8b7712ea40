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

/// The measured training speed of each stage setting, keyed by the typed setting (`SpeedSetting`);
/// written, in plans and calibration.json, under the setting's one line.
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

  public var entries: [SpeedSetting: Entry]
  /// What the plan says of where its rates come from (`calibration.measured_on`).
  public var measuredOn: String?

  public init(entries: [SpeedSetting: Entry] = [:], measuredOn: String? = nil) {
    (self.entries, self.measuredOn) = (entries, measuredOn)
  }

  enum CodingKeys: String, CodingKey { case entries, measuredOn }

  /// calibration.json: the entries under each setting's line.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    var entries: [SpeedSetting: Entry] = [:]
    for (line, entry) in try c.decode([String: Entry].self, forKey: .entries) {
      guard let setting = SpeedSetting(line: line) else {
        throw DecodingError.dataCorruptedError(forKey: .entries, in: c, debugDescription: "\(line) is not a stage setting as this tool writes it")
      }
      entries[setting] = entry
    }
    (self.entries, measuredOn) = (entries, try c.decodeIfPresent(String.self, forKey: .measuredOn))
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(Dictionary(uniqueKeysWithValues: entries.map { ("\($0.key)", $0.value) }), forKey: .entries)
    try c.encodeIfPresent(measuredOn, forKey: .measuredOn)
  }

  /// The steps that `seconds` of training buy at the rate of `config`'s setting (at least 1); nil when
  /// that setting has not been calibrated.
  public func steps(for config: TrainConfig, seconds: Double) -> Int? {
    entries[SpeedSetting(config)].map { max(1, Int(($0.stepsPerSecond * seconds).rounded())) }
  }

  /// The step rates a plan or calibration.json may give: positive, and far above any machine's (so
  /// that a time budget times a rate stays a whole number of steps).
  static let rateRange = Double.leastNonzeroMagnitude...1e6

  /// The rates on record for `plan` in `directory`: the plan's own first, then the study directory's
  /// `calibration.json` for the settings the plan does not give.
  public static func recorded(for plan: StudyPlan, in directory: StudyDirectory) throws -> Calibration {
    var calibration = plan.calibration ?? Calibration()
    for (k, v) in directory.read(Calibration.self, at: directory.calibration)?.entries ?? [:] where calibration.entries[k] == nil {
      guard rateRange.contains(v.stepsPerSecond) else {
        throw StudyError("\(directory.calibration.path): the rate of \(k) is \(v.stepsPerSecond) steps per second, not a positive number "
                          + "up to 10^6; delete the file (or run with --recalibrate) to measure it again")
      }
      calibration.entries[k] = v
    }
    return calibration
  }

  /// The block a plan can carry to train these steps anywhere.
  public var planYAML: String {
    var out = "calibration:\n  measured_on: \"\(measuredOn ?? entries.values.compactMap(\.machine).first ?? "unknown")\"\n  steps_per_second:\n"
    for (key, entry) in entries.sorted(by: { "\($0.key)" < "\($1.key)" }) {
      out += "    \"\(key)\": \(String(format: "%.4g", entry.stepsPerSecond))\n"
    }
    return out
  }
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
      throw StudyError("the calibration run of \(SpeedSetting(config)) trained no timed step; check the stage's settings")
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
    for config in experiment.timedSettings where calibration.entries[SpeedSetting(config)] == nil {
      progress("\(SpeedSetting(config))", nil)
      let longest = experiment.uniqueStages.filter { SpeedSetting($0.config) == SpeedSetting(config) }.compactMap(\.budgetSeconds).max()
      let entry = try measure(config, seconds: longest, scratch: directory.url)
      calibration.entries[SpeedSetting(config)] = entry
      progress("\(SpeedSetting(config))", entry)
      measuredAny = true
    }
    if measuredAny || recalibrate || !FileManager.default.fileExists(atPath: directory.calibration.path) {
      try directory.write(calibration, to: directory.calibration)
    }
    return calibration
  }
}
