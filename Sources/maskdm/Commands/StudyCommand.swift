// `maskdm study run PLAN [--preset quick|paper] [--only NAME] [--out DIR] [--repeats N] [--recalibrate]
//  [--calibrate-only] [--emit-slurm [--partition P] [--time T] [--account A]] [--dry-run]`,
// `maskdm study import SEED.md -o plan.yaml`, `maskdm study report PLAN --out DIR`.
import ArgumentParser
import Engine
import Foundation
import Studies
import Training

struct StudyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "study", abstract: "Run ablation studies from a plan: FID and training time for every variant, one report.",
    subcommands: [StudyRun.self, StudyStatusCommand.self, StudyImport.self, StudyReportCommand.self], defaultSubcommand: StudyRun.self)
}

struct StudyOptions: ParsableArguments {
  @Argument(help: "The plan (YAML; see plans/).") var plan: String
  @Option(help: "quick (Fashion-MNIST on a CPU, minutes) or paper (CelebA-64 at the authors' settings, GPU).") var preset: String?
  @Option(name: .shortAndLong, help: "The study directory (default: studies/<plan>-<preset>).") var out: String?

  /// The plan and its study directory.
  func load() throws -> (StudyPlan, URL) {
    let resolved = try StudyPlan.load(URL(fileURLWithPath: plan), preset: preset)
    let dir = URL(fileURLWithPath: out ?? "studies/\(fileName(resolved.name))-\(fileName(resolved.preset))")
    try StudyDirectory(dir).checkOwnership()
    return (resolved, dir)
  }

  /// The experiment with the calibration on record (the plan's and the study directory's), measuring nothing.
  func experiment() throws -> (Experiment, URL) {
    let (plan, dir) = try load()
    return (try StudyRunner.calibrated(plan, directory: dir, measure: false), dir)
  }
}

struct StudyRun: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Train and evaluate every variant of a plan (re-running resumes and skips what is done).")
  @OptionGroup var options: StudyOptions
  @Option(help: "Run only this variant or study (its name or slug).") var only: String?
  @Option(help: "Training seeds per variant (default: the plan's evaluation.repeats, else 1); more seeds reuse the finished ones.")
  var repeats: Int?
  @Option(help: ArgumentHelp("Add seeds until every comparison is decided, at most this many: a group-sequential design "
                               + "from --repeats (or the plan's) seeds, looking every 2 more, its error rate kept (docs/studies.md).",
                             valueName: "max-seeds"))
  var untilDecided: Int?
  @Flag(help: "Time the stage settings again (compare: time) instead of using the calibration on record or in the plan.")
  var recalibrate = false
  @Flag(help: "Calibrate the time budgets (write DIR/calibration.json and the plan block that carries it) and exit.")
  var calibrateOnly = false
  @Option(help: "Only the seed with this index (0 to repeats - 1), with --only: one job of a Slurm graph.") var seedIndex: Int?
  @Option(help: "Train only the stage whose run directory is runs/NAME (see --dry-run) and exit: a shared stage's Slurm job.")
  var stage: String?
  @Option(help: "Device every stage trains on: cpu, gpu or auto (overrides the plan's `device`).") var device: DeviceChoice?
  @Flag(help: "Write DIR/slurm.sh, which submits the study as a graph of Slurm jobs (shared stages, then variants, then the report), and exit.")
  var emitSlurm = false
  @OptionGroup var slurm: SlurmFlags
  @Flag(help: "List the variants, their stages and what they will cost on this machine (steps, time, device-hours), and exit.") var dryRun = false
  @Flag(help: "With --dry-run: measure each stage setting, the sampling and the Inception network briefly here, instead of the rates on record.")
  var estimate = false
  @Flag(help: "Write no TensorBoard files (by default each run's in runs/*/tb/, each variant and seed's in DIR/tb/).")
  var noTensorboard = false
  @OptionGroup var parallel: DistributedOptions

  func run() throws {
    let range = StudyPlan.repeatsRange
    if let repeats, !range.contains(repeats) {
      throw ValidationError("--repeats must be \(range.lowerBound) to \(range.upperBound) (got \(repeats))")
    }
    var (plan, dir) = try options.load()
    var fixedRepeats = repeats
    if let untilDecided {
      let first = repeats ?? plan.decision.design.looks[0]
      guard first >= 2, untilDecided > first, range.contains(untilDecided) else {
        throw ValidationError("--until-decided must be more seeds than the first look's \(first) (at least 2), at most \(range.upperBound) (got \(untilDecided))")
      }
      plan.decision.design = .sequential(min: first, max: untilDecided, step: 2)
      fixedRepeats = nil
    }
    if estimate, !dryRun { throw ValidationError("--estimate measures what --dry-run predicts: give --dry-run too") }
    if dryRun {
      let experiment = try StudyRunner.calibrated(plan, directory: dir, measure: false)
      let seeds = repeats ?? plan.repeats
      print(describe(experiment, repeats: seeds), terminator: "")
      var rates = CostRates.onRecord(experiment, directory: StudyDirectory(dir))
      if estimate {
        rates.measure(experiment) { FileHandle.standardError.write(Data("measuring \($0)\n".utf8)) }
      }
      print(costTable(StudyCost(experiment, seeds: seeds, rates: rates, directory: StudyDirectory(dir)), measured: estimate), terminator: "")
      return
    }
    if calibrateOnly {
      let printer = StudyPrinter()
      let e = try StudyRunner.calibrated(plan, directory: dir, recalibrate: recalibrate) { printer.handle($0) }
      printer.finish()
      guard let c = e.calibration else { print("\(plan.name) compares at equal steps: nothing to calibrate"); return }
      print("wrote \(dir.appendingPathComponent("calibration.json").path); a plan carries it as:\n\(c.planYAML)", terminator: "")
      return
    }
    if emitSlurm {
      let experiment = try StudyRunner.calibrated(plan, directory: dir, measure: false)
      try requireCalibration(experiment, dir, for: "a Slurm graph's jobs")
      try slurm.emit(experiment, repeats: repeats ?? plan.repeats, planPath: options.plan, directory: dir)
      return
    }
    if seedIndex != nil, only == nil { throw ValidationError("--seed-index runs one seed of one variant: give --only NAME too") }
    let group = try parallel.join()
    let printer = StudyPrinter()
    let started = Date()
    let experiment: Experiment
    if group != nil {
      // Every rank must train the same steps: they read the calibration on record, none measures.
      experiment = try StudyRunner.calibrated(plan, directory: dir, measure: false)
      try requireCalibration(experiment, dir, for: "a data-parallel study's ranks")
    } else {
      experiment = try StudyRunner.calibrated(plan, directory: dir, recalibrate: recalibrate) { printer.handle($0) }
    }
    let runner = StudyRunner(experiment: experiment, directory: dir, repeats: fixedRepeats, group: group)
    runner.device = device
    runner.tensorBoard = !noTensorboard
    if let stage {
      let summary = try runner.trainStage(stage) { printer.handle($0) }
      printer.finish()
      if let group, group.rank != 0 { return }
      print("stage runs/\(stage): \(summary.steps) steps in " + duration(summary.trainSeconds))
      return
    }
    let results = try runner.run(only: only, repeatIndex: seedIndex) { printer.handle($0) }
    printer.finish()
    if let group, group.rank != 0 { return }
    let failed = results.filter { !$0.finished }
    print("study \(experiment.plan.name) (\(experiment.plan.preset)): \(results.count - failed.count) of \(results.count) runs "
            + "(\(runner.repeats) seed\(runner.repeats == 1 ? "" : "s") per variant) finished in " + duration(Date().timeIntervalSince(started)))
    print(headline(try runner.report()))
    print("report: \(dir.appendingPathComponent("report.html").path) (and report.md, results.json, results.csv)")
    try failOnDamagedResults(runner)
    if !failed.isEmpty { throw ExitCode(3) }
  }
}

/// Names each damaged results file the last report left out, and fails (exit status 4).
func failOnDamagedResults(_ runner: StudyRunner) throws {
  guard !runner.damaged.isEmpty else { return }
  for d in runner.damaged { FileHandle.standardError.write(Data("error: \(d)\n".utf8)) }
  FileHandle.standardError.write(Data(("error: the report leaves out \(runner.damaged.count) damaged results file\(runner.damaged.count == 1 ? "" : "s"); "
    + "delete \(runner.damaged.count == 1 ? "it" : "them") and run `maskdm study run` again to measure \(runner.damaged.count == 1 ? "that variant" : "those variants") anew\n").utf8))
  throw ExitCode(4)
}

/// Fails when a time-budget stage has no calibration on record (`what` would measure different steps).
func requireCalibration(_ experiment: Experiment, _ dir: URL, for what: String) throws {
  guard experiment.plan.compare == .time else { return }
  let missing = experiment.timedSettings.map(SpeedSetting.init).filter { experiment.calibration?.entries[$0] == nil }
  guard missing.isEmpty else {
    throw ValidationError("\(what) must train the same steps, so the time budgets need a calibration first (missing: "
                            + missing.map(\.description).joined(separator: "; ") + "). Run `maskdm study run PLAN --out "
                            + "\(dir.path) --calibrate-only` once on the machine kind the study runs on, or give calibration: in the plan.")
  }
}

/// The variants, their stages (shared ones marked) and budgets.
func describe(_ e: Experiment, repeats: Int) -> String {
  var uses: [String: Int] = [:]
  for v in e.variants { for s in v.stages { uses[s.id, default: 0] += 1 } }
  let seeds = e.seeds(repeats: repeats)
  var out = "\(e.plan.title) (preset \(e.plan.preset), compare at equal \(e.plan.compare == .time ? "training time" : "steps")): "
    + "\(e.variants.count) variants × \(seeds.count) training seed\(seeds.count == 1 ? "" : "s") (\(seeds.map(String.init).joined(separator: ", "))), "
    + "\(e.uniqueStages.count * seeds.count) training runs\n"
  for v in e.variants {
    out += "- \(v.name) [\(v.slug)]" + (v.studies.isEmpty ? "" : " in: \(v.studies.joined(separator: "; "))") + "\n"
    for s in v.stages {
      var budget = s.config.trainSeconds.map { String(format: "%g s (not calibrated yet)", $0) } ?? "\(s.config.trainSteps) steps"
      if let seconds = s.budgetSeconds, s.config.trainSeconds == nil { budget += String(format: " (%g s, calibrated)", seconds) }
      out += "    \(s.directoryName): \(maskDescription(s.config)), data \(dataDescription(s.config)), \(budget)"
        + (v.evaluation.along != nil ? alongDescription(s.config) : "") + (s.parent != nil ? ", from its predecessor" : "") + ((uses[s.id] ?? 0) > 1 ? ", shared by \(uses[s.id]!) variants" : "") + "\n"
    }
  }
  let family = e.studies.map { $0.rows.count - 1 }.reduce(0, +)
  out += "Verdicts: \(e.plan.decision.description); the family holds \(family) comparison\(family == 1 ? "" : "s").\n"
  if let reference = e.speedUpReference, let v = e.variants.first(where: { $0.slug == reference }) {
    out += "Speed-ups are read on \(v.name)'s curve, trained on to \(Experiment.speedUpReferenceFactor)x its budget after its evaluation.\n"
  }
  return out
}

/// ", FID along training at steps 463, 925": the snapshots a stage keeps for `evaluation.along`.
func alongDescription(_ c: TrainConfig) -> String {
  guard let every = c.snapshotEvery, c.trainSeconds == nil else { return "" }
  var steps = Array(stride(from: every, through: c.trainSteps, by: every))
  if steps.last != c.trainSteps { steps.append(c.trainSteps) }
  let shown = steps.count > 8 ? steps.prefix(3).map(String.init) + ["…"] + steps.suffix(2).map(String.init) : steps.map(String.init)
  return ", FID along training at step\(steps.count == 1 ? "" : "s") " + shown.joined(separator: ", ")
}

/// "mask 0.9 patch", "mask 0.5 block 2", "unmasked".
func maskDescription(_ c: TrainConfig) -> String {
  guard c.isMasked else { return "unmasked" }
  let d = c.dataset
  let size = d.mask.size(of: d.mask.type).map { " \($0)" } ?? ""
  return "mask \(String(format: "%g", d.maskRatio)) \(d.mask.type.rawValue)\(size)"
}

/// "fashion-mnist classes 0,2,4,6 10%": the data a stage trains on.
func dataDescription(_ c: TrainConfig) -> String {
  let d = c.dataset
  var out = d.name + (d.path.isEmpty ? "" : " \(d.path)")
  if let classes = d.classes { out += " classes " + classes.map(String.init).joined(separator: ",") }
  if d.fraction < 1 { out += String(format: " %g%%", d.fraction * 100) }
  return out
}

/// The headline: the plan's answer in sentences, then per variant the primary metric and FID over seeds
/// (with their real-vs-real floors) and training time.
func headline(_ report: StudyReport) -> String {
  func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
    s.count >= n ? s : left ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count)
  }
  var lines = report.answerSentences.map { "* " + $0 + "." }
  if let design = report.designSentence { lines.append(design) }
  if !lines.isEmpty { lines.append("") }
  let metric = report.experiment.plan.decision.primaryMetric
  let summaries = report.summaries
  let width = max(8, summaries.map { $0.name.count }.max() ?? 8) + 2
  // The primary metric first, the other one beside it (KID only where the study measured it).
  let hasKID = summaries.contains { $0.kid != nil }
  let columns = metric == .kid ? ["KID ×10³, mean [95% CI]", "FID, mean [95% CI]"]
    : ["FID, mean [95% CI]"] + (hasKID ? ["KID ×10³, mean [95% CI]"] : [])
  lines.append(pad("variant", width) + columns.map { pad($0, 36) }.joined() + pad("train s", 9, left: true) + "  failed")
  for s in summaries {
    let cells = metric == .kid ? [s.kid?.text(scale: 1000), s.fid?.text()] : [s.fid?.text()] + (hasKID ? [s.kid?.text(scale: 1000)] : [])
    let values = cells.map { pad($0 ?? "-", 36) }.joined()
    let seconds: String = s.trainingSeconds.map { String(format: "%.0f", $0.mean) } ?? "-"
    let failures: String = s.failures.map { "seed \($0.seed): \($0.error)" }.joined(separator: "; ")
    lines.append(pad(s.name, width) + values + pad(seconds, 9, left: true) + (failures.isEmpty ? "" : "  " + failures))
  }
  let e = report.experiment.plan.evaluation
  let other = metric == .kid ? " and FID" : hasKID ? " and KID" : ""
  var protocolLine = "\(metric.label) (primary)\(other) from \(e.samples) samples against "
    + (e.reference.statistics == nil ? "\(e.reference.count) random real images" : "reference statistics")
    + "; \(report.repeats) training seed\(report.repeats == 1 ? "" : "s") per variant at most."
  if let floor = summaries.lazy.compactMap(\.floor).first {
    protocolLine += " Floor (\(floor.samples) held-out real images against the same reference): FID \(String(format: "%.1f", floor.fid))"
      + (floor.kid.map { String(format: ", KID ×10³ %.2f", $0 * 1000) } ?? "") + "."
  }
  lines.append(protocolLine)
  return lines.joined(separator: "\n")
}

struct StudyImport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import", abstract: "Turn a written ablation plan (Markdown or HTML: ### name, - **Ablated Part**: …) into a runnable plan YAML.")
  @Argument(help: "The markdown plan.") var seed: String
  @Option(name: .shortAndLong, help: "The plan YAML to write.") var out: String
  @Flag(help: "Print, per ablation, the words read, the part chosen, the runner-up and why, the variants and the defaults taken.")
  var explain = false

  func run() throws {
    guard let text = try? String(contentsOfFile: seed, encoding: .utf8) else { throw ValidationError("cannot read \(seed): check the path") }
    try OutputTarget.checkFile(URL(fileURLWithPath: out), flag: "-o", kind: "plan", inputs: [URL(fileURLWithPath: seed)]) {
      OutputTarget.prefix(of: $0).hasPrefix(importedPlanHeader)
    }
    let name = URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent
    let imported = try importPlan(text, name: name)
    if explain { print(imported.explanation.joined(separator: "\n")) }
    // Nothing understood: nothing to write. Otherwise the understood ablations are written (the others
    // commented out at the end), and the exit status still says that something was left out.
    guard imported.ablations.contains(where: \.isImported) else { throw PlanError(imported.failure!) }
    let experiment = try Experiment(plan: try StudyPlan(yaml: imported.yaml, name: name))  // check it expands before writing
    try imported.yaml.write(toFile: out, atomically: true, encoding: .utf8)
    print("wrote \(out): \(experiment.studies.count) studies, \(experiment.variants.count) variants (quick preset); run it with maskdm study run \(out)")
    if let failure = imported.failure {
      throw PlanError("\(failure). The other ablations are written to \(out); each one left out is commented out at its end.")
    }
  }
}

struct StudyReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "report", abstract: "Rewrite a study's report from its recorded results.")
  @OptionGroup var options: StudyOptions

  @Option(help: "Training seeds per variant to report (default: the plan's evaluation.repeats).") var repeats: Int?

  func run() throws {
    let (experiment, dir) = try options.experiment()
    let runner = StudyRunner(experiment: experiment, directory: dir, repeats: repeats)
    try runner.writeReport()
    print(headline(try runner.report()))
    print("report: \(runner.directory.html.path)")
    try failOnDamagedResults(runner)
  }
}
