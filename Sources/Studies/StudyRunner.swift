// Runs an expanded plan: each distinct stage trains once (resuming when interrupted, reused when
// finished), each variant is evaluated and its result written at once, a failure is recorded and
// the rest go on, and the report is rewritten after every variant.
import Engine
import Foundation
import Training

/// What a study run reports while it runs (the CLI prints them; the runner never prints).
public enum StudyEvent {
  /// A stage setting is being timed (`entry` nil) or was timed, for a time budget.
  case calibrating(setting: String, entry: Calibration.Entry?)
  /// One repeat (training seed) of a variant starts.
  case variantStarted(Variant, index: Int, total: Int)
  /// A finished variant result from an earlier run is kept.
  case variantReused(VariantResult)
  case stageStarted(PlannedStage, variant: String, resuming: Bool)
  case stageReused(PlannedStage, variant: String)
  /// Another process holds the stage's run directory (an array job training a shared stage).
  case waiting(PlannedStage)
  case training(TrainingEvent)
  case referenceProgress(done: Int, total: Int, imagesPerSecond: Double)
  case sampling(done: Int, total: Int)
  /// A point along a stage's training was evaluated (`reused`: found from an earlier run).
  case pointEvaluated(PlannedStage, point: TimelinePoint, index: Int, total: Int, reused: Bool)
  case variantFinished(VariantResult)
  case variantFailed(VariantResult)
  /// A result the plan or the weights no longer produce was set aside and is computed again.
  case superseded(Supersession)
  case reportWritten(URL)
}

/// Runs the variants of one experiment in one study directory.
public final class StudyRunner {
  public let experiment: Experiment
  public let directory: StudyDirectory
  /// Seconds between checks while another process trains a shared stage.
  public var waitInterval: Double = 10
  private let evaluator: Evaluator
  private var failedStages: [String: String] = [:]
  /// The data-parallel group every stage trains on (nil: this process alone). Rank 0 alone
  /// evaluates and writes results and reports; the other ranks train and report nothing.
  public let group: DistributedGroup?
  var isRoot: Bool { (group?.rank ?? 0) == 0 }

  /// `repeats`: a fixed number of seeds instead of the plan's design.
  public init(experiment: Experiment, directory: URL, repeats: Int? = nil, group: DistributedGroup? = nil) {
    var experiment = experiment
    if let repeats { experiment.plan.decision.design = .fixed(max(1, repeats)) }
    self.group = group
    self.repeats = experiment.plan.repeats
    self.experiment = experiment
    self.directory = StudyDirectory(directory)
    self.evaluator = Evaluator(studyDirectory: self.directory.url)
  }

  /// Training seeds per variant at most (the plan's `evaluation.repeats` unless the command line says).
  public let repeats: Int
  /// The device every stage trains on, instead of its configuration's `device` (nil: the configuration's).
  public var device: DeviceChoice?
  /// TensorBoard files: each stage's run in `runs/*/tb`, each variant and seed in `tb/` (`--no-tensorboard`: false).
  public var tensorBoard = true

  /// Runs the selected variants (all when `only` is nil), each with every seed (only the
  /// `repeatIndex`-th when given), seed by seed (so that an early report compares every variant), and
  /// writes the report; returns the per-seed results.
  @discardableResult
  public func run(only: String? = nil, repeatIndex: Int? = nil,
                  events allEvents: @escaping (StudyEvent) -> Void = { _ in }) throws -> [VariantResult] {
    let root = isRoot
    let events: (StudyEvent) -> Void = { if root { allEvents($0) } }
    let selected = try experiment.select(only)
    try prepare(repeatIndex: repeatIndex)
    var results: [VariantResult] = []
    let design = experiment.plan.decision.design
    // A sequential design reads the verdicts after each look's seeds and stops once all are decided.
    let looks = repeatIndex.map { [$0 + 1] } ?? design.looks
    var done = repeatIndex ?? 0
    for look in looks {
      let indices = Array(done..<look)
      done = look
      let total = selected.count * repeats
      for index in indices {
        for (i, base) in selected.enumerated() {
          let variant = experiment.seeded(base, repeat: index)
          if let done = (try? directory.readResult(at: directory.result(variant))) ?? nil, done.finished {
            if done.key == variant.key {
              events(.variantReused(done))
              results.append(done)
              continue
            }
            if root {
              let kept = try directory.setAside(directory.result(variant), tag: done.key)
              events(.superseded(Supersession(subject: "\(variant.name), seed \(variant.seed)", changes: changes(from: done, to: variant),
                                              keptAt: kept)))
            }
          }
          events(.variantStarted(variant, index: index * selected.count + i + 1, total: total))
          // Held while this process trains and evaluates the variant, for `study status` (never waited on).
          let active = root ? try? RunDirectory(directory.active(variant)).lockCreating() : nil
          let result = run(variant, events: events)
          active?.release()
          results.append(result)
          guard root else { continue }
          try directory.write(result, to: directory.result(variant))
          if tensorBoard { try StudyTensorBoard.write(result, in: directory) }
          events(result.finished ? .variantFinished(result) : .variantFailed(result))
          try writeReport(events: events)
        }
      }
      if design.isSequential, repeatIndex == nil, only == nil, try report().outcome.decisions.allSatisfy({ $0.verdict != .noClearDifference }) {
        break
      }
    }
    if root { try writeReport(events: events) }
    return results
  }

  /// Checks the run's options against the study and, on the root process, claims the study directory
  /// and records the resolved plan.
  private func prepare(repeatIndex: Int?) throws {
    if let repeatIndex, !(0..<repeats).contains(repeatIndex) {
      throw StudyError("seed index \(repeatIndex) is outside the \(repeats) training seed\(repeats == 1 ? "" : "s") of this study (0 to \(repeats - 1))")
    }
    guard experiment.plan.compare == .steps || experiment.calibration != nil else {
      throw StudyError("a compare: time study runs on calibrated steps: expand it with StudyRunner.calibrated(plan, directory:)")
    }
    if experiment.plan.decision.design.isSequential, group != nil, repeatIndex == nil {
      throw StudyError("a sequential design (evaluation.repeats: {min, max}) decides after each look in one process; "
                        + "run it without data parallelism, or with fixed repeats")
    }
    guard isRoot else { return }
    try directory.checkOwnership()
    try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
    try writeAtomically(Data(experiment.plan.resolvedYAML.utf8), to: directory.url.appendingPathComponent("plan.resolved.yaml"))
  }

  /// Trains the one stage whose run directory is `runs/<directoryName>` (with any of the study's
  /// seeds) and returns its summary: a shared stage's own job in a Slurm graph. Its parent must have
  /// finished.
  @discardableResult
  public func trainStage(_ directoryName: String, events allEvents: @escaping (StudyEvent) -> Void = { _ in }) throws -> RunSummary {
    let root = isRoot
    let events: (StudyEvent) -> Void = { if root { allEvents($0) } }
    for index in 0..<repeats {
      for base in experiment.variants {
        let variant = experiment.seeded(base, repeat: index)
        guard let stage = variant.stages.first(where: { $0.directoryName == directoryName }) else { continue }
        if let parent = stage.parent, let p = variant.stages.first(where: { $0.id == parent }),
           RunDirectory(directory.run(p)).readSummary() == nil {
          throw StudyError("stage \(stage.name) starts from runs/\(p.directoryName), which has not finished: train that stage first")
        }
        return try train(stage, of: variant, events: events)
      }
    }
    throw StudyError("no stage of \(experiment.plan.name) trains in runs/\(directoryName) with \(repeats) seed\(repeats == 1 ? "" : "s") "
                      + "(the stages: maskdm study run PLAN --dry-run)")
  }

  /// The report of what is on record; results files that are damaged are left out and listed in `damaged`.
  public func report() throws -> StudyReport {
    let (results, damaged) = directory.recorded(experiment, repeats: repeats)
    self.damaged = damaged
    return StudyReport(experiment: experiment, results: results, repeats: repeats, machine: .current)
  }

  /// The damaged results files the last `report()` found (a command names them and fails).
  public private(set) var damaged: [DamagedResult] = []

  /// Rewrites report.md, report.html, results.json and results.csv from the recorded results.
  public func writeReport(events: (StudyEvent) -> Void = { _ in }) throws {
    try directory.checkOwnership()
    try report().write(to: directory)
    // The report names plan.resolved.yaml; it also marks the folder as a study directory, so that the
    // next `study report --out` here replaces this tool's own files (`checkOwnership`).
    let resolved = directory.url.appendingPathComponent("plan.resolved.yaml")
    if isRoot, !FileManager.default.fileExists(atPath: resolved.path) {
      try writeAtomically(Data(experiment.plan.resolvedYAML.utf8), to: resolved)
    }
    events(.reportWritten(directory.html))
  }

  /// The experiment of `plan` with its time budgets turned into steps: the plan's calibration, the one
  /// on record in `directory`, and whatever is missing measured now (all of it with `recalibrate`).
  /// A plan with step budgets is expanded as it is.
  /// A study made under an earlier identity encoding is moved to the current identities first.
  public static func calibrated(_ plan: StudyPlan, directory: URL, recalibrate: Bool = false, measure: Bool = true,
                                events: (StudyEvent) -> Void = { _ in }) throws -> Experiment {
    let experiment = try expanded(plan, directory: directory, recalibrate: recalibrate, measure: measure, events: events)
    try IdentityMigration.migrate(experiment, in: StudyDirectory(directory))
    return experiment
  }

  private static func expanded(_ plan: StudyPlan, directory: URL, recalibrate: Bool, measure: Bool,
                               events: (StudyEvent) -> Void) throws -> Experiment {
    let experiment = try Experiment(plan: plan)
    guard plan.compare == .time else { return experiment }
    let dir = StudyDirectory(directory)
    guard measure else { return try Experiment(plan: plan, calibration: Calibration.recorded(for: plan, in: dir)) }
    try FileManager.default.createDirectory(at: dir.url, withIntermediateDirectories: true)
    let calibration = try Calibrator().calibration(for: experiment, directory: dir, recalibrate: recalibrate) {
      events(.calibrating(setting: $0, entry: $1))
    }
    return try Experiment(plan: plan, calibration: calibration)
  }

  /// Trains and evaluates one variant; errors become a failed result.
  private func run(_ variant: Variant, events: @escaping (StudyEvent) -> Void) -> VariantResult {
    var stages: [StageResult] = []
    do {
      for (i, stage) in variant.stages.enumerated() {
        if let reason = failedStages[stage.id] { throw StudyError("stage \(stage.name) failed earlier in this run: \(reason)") }
        let summary: RunSummary
        do {
          summary = try train(stage, of: variant, events: events)
        } catch {
          failedStages[stage.id] = "\(error)"
          throw error
        }
        let last = i == variant.stages.count - 1
        let timeline = isRoot ? try evaluateAlong(stage, variant: variant, events: events) : nil
        let evaluation = isRoot && (last || variant.evaluation.when == .everyStage) ? try evaluate(stage, variant: variant, events: events) : nil
        let continuation = last && variant.slug == experiment.speedUpReference ? try continueForSpeedUp(stage, of: variant, events: events) : nil
        var run = summary
        run.runDirectory = "runs/\(stage.directoryName)"
        stages.append(StageResult(name: stage.name, id: stage.id, run: run, budgetSeconds: stage.budgetSeconds,
                                  maskRatio: stage.config.dataset.maskRatio, evaluation: evaluation, timeline: timeline, continuation: continuation))
      }
      return VariantResult(variant: variant, stages: stages)
    } catch {
      return .failed(variant, error: "\(error)", stages: stages)
    }
  }

  /// Trains `stage` (or resumes it, or reuses it when it has finished) and returns its summary.
  private func train(_ stage: PlannedStage, of owner: Variant, events: @escaping (StudyEvent) -> Void) throws -> RunSummary {
    let variant = owner.name
    let url = directory.run(stage)
    let run = RunDirectory(url)
    var announcedWait = false
    while true {
      if let summary = run.readSummary() {
        events(.stageReused(stage, variant: variant))
        return summary
      }
      // In a data-parallel job rank 0 holds the lock of the stage all ranks train together.
      guard isRoot, run.isLockedByAnotherProcess else { break }
      if !announcedWait { events(.waiting(stage)) }
      announcedWait = true
      Thread.sleep(forTimeInterval: waitInterval)
    }
    var config = stage.config
    if let device { config.device = device }
    if let parent = stage.parent {
      guard let p = owner.stages.first(where: { $0.id == parent }) else { throw StudyError("stage \(stage.name) lost its parent") }
      config.pretrainedModelCkpt = directory.run(p).path
    }
    let resuming = run.latestCheckpoint != nil
    events(.stageStarted(stage, variant: variant, resuming: resuming))
    let trainer = try Trainer(config: config, runDirectory: url, group: group)
    trainer.tensorBoard = tensorBoard
    return try trainer.train(resume: resuming) { events(.training($0)) }
  }

  /// Evaluates the newest checkpoint of `stage` with the variant's protocol (cached per stage and protocol).
  private func evaluate(_ stage: PlannedStage, variant: Variant, events: @escaping (StudyEvent) -> Void) throws -> EvaluationResult {
    let spec = variant.evaluation
    let key = spec.cacheKey
    let cache = directory.evaluation(stage: stage, key: key)
    let job = try SamplingJob.forRun(directory.run(stage), ema: true, count: spec.samples)
    let weights = try weightsChecksum(job)
    if let done = directory.read(EvaluationResult.self, at: cache), directory.isWhole(done) {
      if done.weights == nil || done.weights == weights { return done }
      try setAsideEvaluation(cache, measured: done.weights, now: weights, subject: "the evaluation of stage \(stage.name)", events: events)
    }
    let reference = try reference(for: variant, spec, events: events)
    var result = try evaluator.evaluate(job, spec: spec, reference: reference, gridName: "\(stage.directoryName)-\(key)") { done, total in
      events(.sampling(done: done, total: total))
    }
    result.weights = weights
    try directory.write(result, to: cache)
    recordEvaluation(of: stage, step: stage.config.trainSteps, fid: result.fid, kid: result.kidMean, precision: result.precision, recall: result.recall)
    return result
  }

  /// The speed-up reference trained on beyond its budget, to `speedUpReferenceFactor` times its steps,
  /// in a copy of its finished run (`runs/NAME-continued`; its own run and evaluation stay as they are),
  /// and the snapshots after its budget evaluated along. The learning rate is constant after warm-up, so
  /// the continuation is the longer run's second part, bit for bit as the resume tests check.
  private func continueForSpeedUp(_ stage: PlannedStage, of variant: Variant, events: @escaping (StudyEvent) -> Void) throws -> [TimelinePoint]? {
    guard isRoot, variant.evaluation.alongPoint != nil else { return nil }
    var longer = stage
    longer.name = "\(stage.name) continued"
    longer.config.trainSteps = stage.config.trainSteps * Experiment.speedUpReferenceFactor
    let source = directory.run(stage), target = directory.runs.appendingPathComponent("\(stage.directoryName)-continued")
    if !FileManager.default.fileExists(atPath: target.path) {
      let staging = directory.runs.appendingPathComponent(".\(stage.directoryName)-continued.copying")
      try? FileManager.default.removeItem(at: staging)
      try FileManager.default.copyItem(at: source, to: staging)
      try? FileManager.default.removeItem(at: RunDirectory(staging).summary)
      try FileManager.default.moveItem(at: staging, to: target)
    }
    let run = RunDirectory(target)
    if run.readSummary().map({ $0.steps < longer.config.trainSteps }) ?? true {
      var config = longer.config
      if let device { config.device = device }
      events(.stageStarted(longer, variant: variant.name, resuming: true))
      let trainer = try Trainer(config: config, runDirectory: target, group: group)
      trainer.tensorBoard = tensorBoard
      _ = try trainer.train(resume: true) { events(.training($0)) }
    }
    return try evaluateAlong(longer, variant: variant, runDirectory: target, after: stage.config.trainSteps, events: events)
  }

  /// Evaluates every snapshot `stage` kept with the variant's `evaluation.along` protocol (only those
  /// after step `after` when given), each point cached on its own (a killed study redoes only the point it
  /// was measuring); nil without `along`.
  private func evaluateAlong(_ stage: PlannedStage, variant: Variant, runDirectory: URL? = nil, after: Int = 0,
                             events: @escaping (StudyEvent) -> Void) throws -> [TimelinePoint]? {
    guard let spec = variant.evaluation.alongPoint else { return nil }
    let run = RunDirectory(runDirectory ?? directory.run(stage))
    let steps = run.snapshotSteps.filter { $0 > after && $0 <= stage.config.trainSteps }
    guard !steps.isEmpty else {
      throw StudyError("stage \(stage.name) kept no snapshots in \(run.snapshots.path) for the evaluation along training; "
                        + "remove the run directory to train it again with snapshots")
    }
    let key = spec.alongCacheKey
    let config = try run.configuration()
    var points: [TimelinePoint] = []
    for (i, step) in steps.enumerated() {
      let cache = directory.evaluations.appendingPathComponent("\(run.url.lastPathComponent)-step-\(step)-\(key).json")
      let job = SamplingJob(config: config, weights: run.snapshot(step: step), count: spec.samples, sampler: spec.sampler)
      let weights = try weightsChecksum(job)
      if let done = directory.read(TimelinePoint.self, at: cache), directory.isWhole(done) {
        if done.weights == nil || done.weights == weights {
          points.append(done)
          events(.pointEvaluated(stage, point: done, index: i + 1, total: steps.count, reused: true))
          continue
        }
        try setAsideEvaluation(cache, measured: done.weights, now: weights, subject: "the evaluation of stage \(stage.name) at step \(step)", events: events)
      }
      let reference = try reference(for: variant, spec, events: events)
      let r = try evaluator.evaluate(job, spec: spec, reference: reference, gridName: nil, bootstrap: false) { done, total in
        events(.sampling(done: done, total: total))
      }
      let point = TimelinePoint(step: step, fid: r.fid, kidMean: r.kidMean, precision: r.precision, recall: r.recall, samples: r.samples,
                                time: r.time, weights: weights)
      try directory.write(point, to: cache)
      recordEvaluation(of: stage, step: step, fid: point.fid, kid: point.kidMean, precision: point.precision, recall: point.recall)
      points.append(point)
      events(.pointEvaluated(stage, point: point, index: i + 1, total: steps.count, reused: false))
    }
    return points
  }

  /// Sets aside a cached evaluation of other weights than those now on disk, and says so.
  private func setAsideEvaluation(_ cache: URL, measured: String?, now: String, subject: String, events: (StudyEvent) -> Void) throws {
    let kept = try directory.setAside(cache, tag: String((measured ?? "unknown").prefix(12)))
    let change = "its weights changed since it was measured (SHA-256 \((measured ?? "?").prefix(12)) → \(now.prefix(12)))"
    events(.superseded(Supersession(subject: subject, changes: [change], keptAt: kept)))
  }

  /// Adds a measured evaluation to the stage's TensorBoard log (the run's curves, at the step evaluated).
  private func recordEvaluation(of stage: PlannedStage, step: Int, fid: Double, kid: Double?, precision: Double?, recall: Double?) {
    guard tensorBoard else { return }
    TensorBoardLog(runDirectory: directory.run(stage))
      .recordEvaluation(step: step, [("fid", fid), ("kid", kid ?? .nan), ("precision", precision ?? .nan), ("recall", recall ?? .nan)])
  }

  /// The real-image statistics of a variant's evaluation (computed once per study, then cached).
  private func reference(for variant: Variant, _ spec: EvaluationProtocol, events: @escaping (StudyEvent) -> Void) throws -> ReferenceSet {
    try evaluator.reference(for: variant.stages.last!.config, spec.reference, resize: spec.fidResize) { done, total, rate in
      events(.referenceProgress(done: done, total: total, imagesPerSecond: rate))
    }
  }
}
