// Where a study stands, from its directory alone (`maskdm study status DIR`): each variant and
// training seed done (its FID), running (the stage, its step and ETA), failed (the first line of its
// error) or pending (with what is already trained), and the time left. It reads the files `study run`
// writes (plan.resolved.yaml, calibration.json, results/, runs/*/metrics.jsonl and summary.json) and
// never writes, nor takes a lock: a stage is running when its run directory's lock is held (seen in
// /proc/locks on this host) or, for a job on another host, when its metrics.jsonl changed lately.
import Foundation
import Training
#if canImport(Glibc)
import Glibc
#endif

/// The state of every (variant, seed) of a study directory.
public struct StudyStatus: Codable, Equatable {
  public enum State: String, Codable { case done, running, failed, pending }

  /// One variant trained with one seed.
  public struct Entry: Codable, Equatable {
    public var variant: String
    public var slug: String
    public var seed: UInt64
    public var state: State
    /// The stage running or next to train (nil when done or failed).
    public var stage: String?
    public var step: Int?
    public var totalSteps: Int?
    /// Seconds to the end of the running stage.
    public var etaSeconds: Double?
    public var fid: Double?
    /// The first line of a failed variant's error.
    public var error: String?
    /// What a pending or running entry has: "pretrain done, finetune stopped at step 120/400", "trained, not evaluated".
    public var detail: String?
  }

  public var study: String
  public var directory: String
  public var repeats: Int
  public var entries: [Entry]
  /// Estimated seconds until every entry is done (training, then evaluation); nil when some part could not be estimated.
  public var secondsLeft: Double?
  public var trainingSecondsLeft: Double?
  public var evaluationSecondsLeft: Double?
  /// What could not be estimated, and why.
  public var notEstimated: [String]

  public func count(_ state: State) -> Int { entries.filter { $0.state == state }.count }

  /// Reads the study in `url`. `repeats` nil: the plan's, or more when results of further seeds are on record.
  public static func read(_ url: URL, repeats: Int? = nil, now: Date = Date()) throws -> StudyStatus {
    let dir = StudyDirectory(url)
    let planFile = dir.url.appendingPathComponent("plan.resolved.yaml")
    guard let text = try? String(contentsOf: planFile, encoding: .utf8) else {
      throw StudyError("\(dir.url.path) holds no plan.resolved.yaml: not a study directory, or `maskdm study run` has not started in it")
    }
    let plan = try StudyPlan(yaml: text, name: dir.url.lastPathComponent)
    let experiment = try StudyRunner.calibrated(plan, directory: dir.url, measure: false)
    let count = repeats ?? recordedRepeats(experiment, dir)
    let times = StepTimes(experiment: experiment, directory: dir)

    var entries: [Entry] = []
    var remaining: [String: (steps: Int, stage: PlannedStage)] = [:]
    var unevaluated = 0
    for base in experiment.variants {
      for index in 0..<count {
        let variant = experiment.seeded(base, repeat: index)
        var entry = Entry(variant: variant.name, slug: variant.slug, seed: variant.seed, state: .pending)
        if let r = dir.read(VariantResult.self, at: dir.result(variant)), r.key == variant.key {
          entry.state = r.finished ? .done : .failed
          entry.fid = r.fid
          entry.error = r.error.map { String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }
          // A failed variant is tried again only by the next `study run`: it is not in this run's time left.
          entries.append(entry)
          continue
        }
        entries.append(progress(of: variant, entry, dir: dir, times: times, now: now, remaining: &remaining))
        unevaluated += 1
      }
    }

    var notEstimated: [String] = []
    var training = 0.0
    for (_, r) in remaining.sorted(by: { $0.key < $1.key }) where r.steps > 0 {
      if let s = times.secondsPerStep(r.stage.config) { training += Double(r.steps) * s } else {
        notEstimated.append("training of \(r.stage.name) (\(SpeedSetting(r.stage.config))): \(times.why(r.stage.config))")
      }
    }
    let evaluation = times.evaluationSeconds.map { Double(unevaluated) * $0 }
    if evaluation == nil, unevaluated > 0 {
      notEstimated.append("evaluation: no variant of this study has been evaluated yet, so its time is not known")
    }
    let trainingLeft = notEstimated.contains { $0.hasPrefix("training") } ? nil : training
    let evaluationLeft = unevaluated == 0 ? 0 : evaluation
    let total = trainingLeft.flatMap { t in evaluationLeft.map { t + $0 } }
    return StudyStatus(study: plan.name, directory: dir.url.path, repeats: count, entries: entries, secondsLeft: total,
                       trainingSecondsLeft: trainingLeft, evaluationSecondsLeft: evaluationLeft, notEstimated: notEstimated)
  }

  /// The entry of a variant with no result yet: the stage it is at, how far, and whether it runs; the
  /// steps its unfinished stages have left go to `remaining`.
  static func progress(of variant: Variant, _ pending: Entry, dir: StudyDirectory, times: StepTimes, now: Date,
                       remaining: inout [String: (steps: Int, stage: PlannedStage)]) -> Entry {
    var entry = pending
    var notes: [String] = []
    let active = isLockHeld(dir.active(variant).appendingPathComponent(".lock"))
    for stage in variant.stages {
      let run = RunDirectory(dir.run(stage))
      let total = stage.config.trainSteps
      if FileManager.default.fileExists(atPath: run.summary.path) {
        notes.append("\(stage.name) done")
        continue
      }
      let step = lastLoggedStep(run)
      remaining[stage.id] = (max(0, total - step.step), stage)
      if entry.stage == nil {
        entry.stage = stage.name
        entry.step = step.step
        entry.totalSteps = total
        if isRunning(run, now: now) {
          entry.state = .running
          let perStep = step.seconds.map { $0 / Double(max(step.step, 1)) } ?? times.secondsPerStep(stage.config)
          entry.etaSeconds = perStep.map { Double(max(0, total - step.step)) * $0 }
          notes.append("\(stage.name) at step \(step.step)/\(total)")
        } else if step.step > 0 {
          notes.append("\(stage.name) stopped at step \(step.step)/\(total)")
        }
      }
    }
    if entry.stage == nil {
      notes = [active ? "evaluating" : "trained, not evaluated"]
      if active { entry.state = .running }
    } else if active, entry.state != .running, let next = entry.stage {
      // The variant's lock is held but none of its stages trains: it evaluates the finished stage's
      // snapshots along training, or prepares (or resumes) the next stage.
      entry.state = .running
      notes.append((entry.step ?? 0) == 0 ? "evaluating along training before \(next)" : "resuming \(next)")
    }
    entry.detail = notes.isEmpty ? nil : notes.joined(separator: ", ")
    return entry
  }

  /// The plan's repeats, or as many as the results on record need (`study run --repeats N` may have asked for more).
  static func recordedRepeats(_ e: Experiment, _ dir: StudyDirectory) -> Int {
    let seeds = e.seeds(repeats: StudyPlan.repeatsRange.upperBound)
    var n = e.plan.repeats
    for v in e.variants {
      let folder = dir.results.appendingPathComponent(v.slug)
      for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix("seed-") && name.hasSuffix(".json") {
        if let seed = UInt64(name.dropFirst(5).dropLast(5)), let i = seeds.firstIndex(of: seed) { n = max(n, i + 1) }
      }
    }
    return n
  }

  /// The last logged step of a run and its training seconds (0 and nil when it has logged none).
  static func lastLoggedStep(_ run: RunDirectory) -> (step: Int, seconds: Double?) {
    for case let .step(step, _, _, _, _, seconds) in run.readMetrics().reversed() { return (step, seconds) }
    return (0, nil)
  }

  /// True while a process trains in `run`: its lock is held on this host, or its log changed in the last 10 minutes.
  static func isRunning(_ run: RunDirectory, now: Date) -> Bool {
    let lock = run.url.appendingPathComponent(".lock")
    if isLockHeld(lock) { return true }
    guard let modified = (try? FileManager.default.attributesOfItem(atPath: run.metrics.path)[.modificationDate]) as? Date else { return false }
    return now.timeIntervalSince(modified) < 600 && !isLocalLockFree(lock)
  }

  /// The lock file is on a local file system (from /proc/mounts), where nobody holding it means nobody trains.
  static func isLocalLockFree(_ lock: URL) -> Bool {
    guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return false }
    let path = lock.resolvingSymlinksInPath().path
    var best: (point: String, type: String) = ("", "")
    for line in mounts.split(separator: "\n") {
      let f = line.split(separator: " ")
      guard f.count >= 3 else { continue }
      let point = String(f[1]).replacingOccurrences(of: "\\040", with: " ")
      if (path == point || path.hasPrefix(point == "/" ? "/" : point + "/")), point.count >= best.point.count { best = (point, String(f[2])) }
    }
    let shared = ["nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "beegfs", "fuse.glusterfs", "ceph", "fuse.sshfs", "9p"]
    return !best.type.isEmpty && !shared.contains(best.type)
  }

  /// Whether a process on this host holds an flock on `lock`.
  static func isLockHeld(_ lock: URL) -> Bool {
    guard let key = fileKey(lock) else { return false }
    return heldLocks().contains(key)
  }

  /// "MAJOR:MINOR:INODE" of a file, as /proc/locks names it.
  static func fileKey(_ url: URL) -> String? {
    var st = stat()
    guard stat(url.path, &st) == 0 else { return nil }
    let dev = UInt64(st.st_dev)
    let major = ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~UInt64(0xFFF))
    let minor = (dev & 0xFF) | ((dev >> 12) & ~UInt64(0xFF))
    return String(format: "%02x:%02x:%llu", major, minor, UInt64(st.st_ino))
  }

  /// The files with an flock held on this host.
  static func heldLocks() -> Set<String> {
    guard let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return [] }
    return Set(text.split(separator: "\n").compactMap { line in
      let f = line.split(separator: " ", omittingEmptySubsequences: true)
      return f.count >= 6 && f[1] == "FLOCK" ? String(f[5]) : nil
    })
  }
}

/// Seconds per training step of a stage setting on this machine, and of one evaluation: from the
/// calibration on record (the plan's and the study's), else from runs of this study with the same
/// setting, else unknown (with the reason).
struct StepTimes {
  var rates: [SpeedSetting: Double] = [:]
  var measuredIn: [SpeedSetting: Double] = [:]
  var evaluationSeconds: Double?
  var hasCalibration: Bool

  init(experiment: Experiment, directory: StudyDirectory) {
    for (k, e) in experiment.calibration?.entries ?? [:] { rates[k] = 1 / e.stepsPerSecond }
    hasCalibration = !(experiment.calibration?.entries.isEmpty ?? true)
    var evaluations: [Double] = []
    let runs = (try? FileManager.default.contentsOfDirectory(atPath: directory.runs.path)) ?? []
    for name in runs {
      let run = RunDirectory(directory.runs.appendingPathComponent(name))
      guard let config = try? run.configuration() else { continue }
      let logged = StudyStatus.lastLoggedStep(run)
      if let s = logged.seconds, logged.step > 1, s > 0 { measuredIn[SpeedSetting(config)] = s / Double(logged.step) }
    }
    for v in experiment.variants {
      let folder = directory.results.appendingPathComponent(v.slug)
      for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".json") {
        if let r = directory.read(VariantResult.self, at: folder.appendingPathComponent(name)), let s = r.evaluationSeconds { evaluations.append(s) }
      }
    }
    evaluationSeconds = evaluations.isEmpty ? nil : evaluations.reduce(0, +) / Double(evaluations.count)
  }

  func secondsPerStep(_ config: TrainConfig) -> Double? {
    let key = SpeedSetting(config)
    return rates[key] ?? measuredIn[key]
  }

  func why(_ config: TrainConfig) -> String {
    hasCalibration
      ? "the calibration on record has no rate for this setting, and no run of this study has trained it yet"
      : "no calibration on record (a compare: steps plan, or one not calibrated) and no run of this study has trained this setting yet"
  }
}
