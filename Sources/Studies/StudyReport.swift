// The report of a study: `report.md` (tables people read in a terminal or on GitHub), a
// self-contained `report.html` (charts and grids inline), and `results.json` / `results.csv` (one
// entry per variant) for people who plot their own.
import Foundation
import Training

/// Everything the report shows, gathered from the plan and the recorded results.
public struct StudyReport {
  public var experiment: Experiment
  public var results: [VariantResult]
  public var machine: MachineInfo

  public init(experiment: Experiment, results: [VariantResult], machine: MachineInfo) {
    self.experiment = experiment
    self.results = results
    self.machine = machine
  }

  func result(_ slug: String) -> VariantResult? { results.first { $0.slug == slug } }

  /// Writes the four files into the study directory (each atomically).
  public func write(to directory: StudyDirectory) throws {
    try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
    try writeAtomically(Data(markdown().utf8), to: directory.report)
    try writeAtomically(Data(html(studyDirectory: directory.url).utf8), to: directory.html)
    try writeAtomically(try resultsEncoder.encode(results), to: directory.resultsJSON)
    try writeAtomically(Data(csv().utf8), to: directory.resultsCSV)
  }

  /// How variants are made comparable, in words.
  var budgetSentence: String {
    let plan = experiment.plan
    switch plan.compare {
    case .time:
      let total = plan.stages.compactMap(\.seconds).reduce(0, +)
      return String(format: "Variants are compared at equal total training time: %.0f s of training steps each (%@); "
                      + "the first step of each stage (tracing and kernel compilation) is not counted.", total,
                    plan.stages.map { String(format: "%@ %.0f s", $0.name, $0.seconds ?? 0) }.joined(separator: " + "))
    case .steps:
      let total = plan.stages.compactMap(\.steps).reduce(0, +)
      return "Variants are compared at equal total steps: \(total) each (" + plan.stages.map { "\($0.name) \($0.steps ?? 0)" }.joined(separator: " + ") + ")."
    }
  }

  var evaluationSentence: String {
    let e = experiment.plan.evaluation
    let reference = e.reference.statistics.map { "the statistics in \($0)" }
      ?? "\(e.reference.count) real images of the \(e.reference.split) split of the final stage's data"
    return "FID (TF-FID Inception, TTUR protocol) of \(e.samples) samples (\(e.sampler.uppercased())"
      + (e.sampler == "ddim" ? " \(e.samplingSteps) steps, eta \(String(format: "%g", e.eta))" : "") + ", EMA weights) against \(reference)"
      + (e.kid ? "; KID from the same features" : "") + ". FID is biased upward at small sample counts: compare only at equal counts."
  }

  /// One row of a table: the cells every table shares.
  func cells(_ r: VariantResult?) -> [String] {
    guard let r else { return ["not run", "", "", "", "", "", ""] }
    guard r.finished else { return ["failed", "", "", "", "", "", ""] }
    let stageTimes = r.stages.map { "\($0.name) \(seconds($0.trainSeconds))" }.joined(separator: " + ")
    return [r.fid.map { "\(formatted($0, digits: 2)) (n=\(r.fidSamples ?? 0))" } ?? "—",
            r.kidMean.map { "\(formatted($0 * 1000, digits: 2)) ± \(formatted((r.kidStd ?? 0) * 1000, digits: 2))" } ?? "—",
            stageTimes, seconds(r.trainingSeconds), seconds(r.wallSeconds), formatted(r.imagesPerSecond, digits: 0),
            formatted(Double(r.peakMemoryBytes) / 1_048_576, digits: 0)]
  }

  static let columns = ["FID (samples)", "KID ×10³", "training time per stage", "training total", "wall clock", "img/s", "peak MB"]

  /// report.md
  public func markdown() -> String {
    let plan = experiment.plan
    var md = "# \(plan.title)\n\nPlan `\(plan.name)`, preset `\(plan.preset)`. \(plan.description)\n\n"
    md += "\(budgetSentence) \(evaluationSentence)\n\nMachine: \(machine.summary).\n\n"
    md += "## All variants\n\n" + table(rows: experiment.variants.map { ($0.name, $0.slug) }) + "\n"
    for study in experiment.studies {
      md += "## \(study.name)\n\n\(study.action.rawValue) \(study.part); metrics: \(study.metrics.joined(separator: ", ")).\n\n"
      md += table(rows: study.rows.map { ($0.label, $0.slug) }) + "\n"
    }
    let failed = results.filter { !$0.finished }
    if !failed.isEmpty {
      md += "## Failed variants\n\n" + failed.map { "- **\($0.name)**: \($0.error ?? "unknown error")" }.joined(separator: "\n") + "\n\n"
    }
    let grids = results.compactMap { r in r.grid.map { "### \(r.name)\n\n![\(r.name)](\($0))\n" } }
    if !grids.isEmpty { md += "## Samples\n\n" + grids.joined(separator: "\n") + "\n" }
    md += "Per-variant numbers: `results.json`, `results.csv`; the resolved plan: `plan.resolved.yaml`; charts: `report.html`.\n"
    return md
  }

  func table(rows: [(String, String)]) -> String {
    var t = "| variant | " + Self.columns.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: Self.columns.count + 1) + "\n"
    for (label, slug) in rows { t += "| \(label) | " + cells(result(slug)).joined(separator: " | ") + " |\n" }
    return t
  }

  /// results.csv: one line per variant.
  public func csv() -> String {
    let header = ["name", "status", "fid", "fid_samples", "reference_samples", "kid_mean", "kid_std", "training_seconds",
                  "device_seconds", "warmup_seconds", "wall_seconds", "images_per_second", "peak_memory_bytes", "stages", "studies", "error"]
    func field(_ s: String) -> String { s.contains(where: { ",\"\n".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
    func num(_ d: Double?) -> String { d.map { "\($0)" } ?? "" }
    var out = header.joined(separator: ",") + "\n"
    for r in results {
      let stages = r.stages.map { "\($0.name):\(String(format: "%.1f", $0.trainSeconds))s" }.joined(separator: " ")
      out += [r.name, r.status, num(r.fid), r.fidSamples.map(String.init) ?? "", r.referenceSamples.map(String.init) ?? "",
              num(r.kidMean), num(r.kidStd), num(r.trainingSeconds), num(r.deviceSeconds), num(r.warmupSeconds), num(r.wallSeconds), num(r.imagesPerSecond),
              String(r.peakMemoryBytes), stages, r.studies.joined(separator: "; "), r.error ?? ""].map(field).joined(separator: ",") + "\n"
    }
    return out
  }
}

func formatted(_ v: Double, digits: Int = 3) -> String {
  v.isFinite ? String(format: "%.\(digits)f", v) : "\(v)"
}

func seconds(_ s: Double) -> String {
  s >= 3600 ? String(format: "%.1f h", s / 3600) : s >= 120 ? String(format: "%.1f min", s / 60) : String(format: "%.0f s", s)
}
