// `maskdm study run PLAN [--preset quick|paper] [--only NAME] [--out DIR] [--emit-slurm] [--dry-run]`,
// `maskdm study import SEED.md -o plan.yaml`, `maskdm study report PLAN --out DIR`.
import ArgumentParser
import Foundation
import Studies

struct StudyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "study", abstract: "Run ablation studies from a plan: FID and training time for every variant, one report.",
    subcommands: [StudyRun.self, StudyImport.self, StudyReportCommand.self], defaultSubcommand: StudyRun.self)
}

struct StudyOptions: ParsableArguments {
  @Argument(help: "The plan (YAML; see plans/).") var plan: String
  @Option(help: "quick (Fashion-MNIST on a CPU, minutes) or paper (CelebA-64 at the authors' settings, GPU).") var preset: String?
  @Option(name: .shortAndLong, help: "The study directory (default: studies/<plan>-<preset>).") var out: String?

  func experiment() throws -> (Experiment, URL) {
    let url = URL(fileURLWithPath: plan)
    let resolved = try StudyPlan.load(url, preset: preset)
    let dir = URL(fileURLWithPath: out ?? "studies/\(resolved.name)-\(resolved.preset)")
    return (try Experiment(plan: resolved), dir)
  }
}

struct StudyRun: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Train and evaluate every variant of a plan (re-running resumes and skips what is done).")
  @OptionGroup var options: StudyOptions
  @Option(help: "Run only this variant or study (its name or slug).") var only: String?
  @Flag(help: "Write DIR/slurm.sh (an array job, one variant per task) and exit.") var emitSlurm = false
  @Flag(help: "List the variants and their stages and exit.") var dryRun = false
  @OptionGroup var parallel: DistributedOptions

  func run() throws {
    let (experiment, dir) = try options.experiment()
    if dryRun {
      print(describe(experiment), terminator: "")
      return
    }
    if emitSlurm {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      let script = dir.appendingPathComponent("slurm.sh")
      let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
      try slurmArrayScript(experiment: experiment, planPath: URL(fileURLWithPath: options.plan).standardizedFileURL.path,
                           preset: experiment.plan.preset, studyDirectory: dir.standardizedFileURL.path, executable: executable)
        .write(to: script, atomically: true, encoding: .utf8)
      chmod(script.path, 0o755)
      print("wrote \(script.path): \(experiment.variants.count) array tasks; submit with sbatch \(script.path)")
      return
    }
    let group = try parallel.join()
    let printer = StudyPrinter()
    let started = Date()
    let results = try StudyRunner(experiment: experiment, directory: dir, group: group).run(only: only) { printer.handle($0) }
    printer.finish()
    if let group, group.rank != 0 { return }
    let failed = results.filter { !$0.finished }
    print("study \(experiment.plan.name) (\(experiment.plan.preset)): \(results.count - failed.count) of \(results.count) variants finished in "
            + duration(Date().timeIntervalSince(started)))
    print(headline(results))
    print("report: \(dir.appendingPathComponent("report.html").path) (and report.md, results.json, results.csv)")
    if !failed.isEmpty { throw ExitCode(3) }
  }
}

/// The variants, their stages (shared ones marked) and budgets.
func describe(_ e: Experiment) -> String {
  var uses: [String: Int] = [:]
  for v in e.variants { for s in v.stages { uses[s.id, default: 0] += 1 } }
  var out = "\(e.plan.title) (preset \(e.plan.preset), compare at equal \(e.plan.compare == .time ? "training time" : "steps")): "
    + "\(e.variants.count) variants, \(e.uniqueStages.count) training runs\n"
  for v in e.variants {
    out += "- \(v.name) [\(v.slug)]" + (v.studies.isEmpty ? "" : " in: \(v.studies.joined(separator: "; "))") + "\n"
    for s in v.stages {
      let budget = s.config.trainSeconds.map { String(format: "%.0f s", $0) } ?? "\(s.config.trainSteps) steps"
      out += "    \(s.directoryName): mask \(s.config.dataset.maskRatio) \(s.config.dataset.maskType), \(budget)"
        + (s.parent != nil ? ", from its predecessor" : "") + ((uses[s.id] ?? 0) > 1 ? ", shared by \(uses[s.id]!) variants" : "") + "\n"
    }
  }
  return out
}

/// The headline table: name, FID, KID, training time.
func headline(_ results: [VariantResult]) -> String {
  func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
    s.count >= n ? s : left ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count)
  }
  let width = max(8, results.map(\.name.count).max() ?? 8)
  var lines = [pad("variant", width) + pad("FID", 10, left: true) + pad("KID x1e3", 16, left: true) + pad("train s", 10, left: true)]
  for r in results {
    guard r.finished else {
      lines.append(pad(r.name, width) + "  failed: \(r.error ?? "")")
      continue
    }
    let kid = r.kidMean.map { String(format: "%.2f ± %.2f", $0 * 1000, (r.kidStd ?? 0) * 1000) } ?? "-"
    lines.append(pad(r.name, width) + pad(r.fid.map { String(format: "%.2f", $0) } ?? "-", 10, left: true) + pad(kid, 16, left: true)
                   + pad(String(format: "%.0f", r.trainingSeconds), 10, left: true))
  }
  if let n = results.first(where: { $0.fidSamples != nil }) {
    lines.append("FID and KID from \(n.fidSamples!) samples against \(n.referenceSamples ?? 0) real images each.")
  }
  return lines.joined(separator: "\n")
}

struct StudyImport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import", abstract: "Turn a markdown ablation plan (### name, - **Ablated Part**: …) into a runnable plan YAML.")
  @Argument(help: "The markdown plan.") var seed: String
  @Option(name: .shortAndLong, help: "The plan YAML to write.") var out: String

  func run() throws {
    guard let text = try? String(contentsOfFile: seed, encoding: .utf8) else { throw ValidationError("cannot read \(seed): check the path") }
    let name = URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent
    let yaml = try importMarkdownPlan(text, name: name)
    let experiment = try Experiment(plan: try StudyPlan(yaml: yaml, name: name))  // check it expands before writing
    try yaml.write(toFile: out, atomically: true, encoding: .utf8)
    print("wrote \(out): \(experiment.studies.count) studies, \(experiment.variants.count) variants (quick preset); run it with maskdm study run \(out)")
  }
}

struct StudyReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "report", abstract: "Rewrite a study's report from its recorded results.")
  @OptionGroup var options: StudyOptions

  func run() throws {
    let (experiment, dir) = try options.experiment()
    let runner = StudyRunner(experiment: experiment, directory: dir)
    try runner.writeReport()
    let results = runner.directory.recordedResults(experiment)
    print(headline(results))
    print("report: \(runner.directory.html.path)")
  }
}
