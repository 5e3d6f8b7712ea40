// The report of a study: `report.md` (tables people read in a terminal or on GitHub), a
// self-contained `report.html` (charts and grids inline), and `results.json` / `results.csv` for
// people who plot their own. Every number with a spread says so: mean and 95% interval over training
// seeds, differences paired by seed with a verdict, and the protocol on record.
import Foundation
import Training

/// Everything the report shows, gathered from the plan and the recorded per-seed results.
public struct StudyReport {
  public let experiment: Experiment
  /// One result per (variant, seed).
  public let results: [VariantResult]
  public let repeats: Int
  public let machine: MachineInfo
  /// Each variant over its seeds, and each study row against its reference (computed once).
  public let summaries: [VariantSummary]
  public let comparisons: [Comparison]
  /// The family's looks and whether the design has finished.
  public let outcome: FamilyOutcome
  /// Each timed variant's speed-up over DSM only (DSM-equivalent time), for studies with `time to target`.
  public let speedUps: [SpeedUp]

  public init(experiment: Experiment, results: [VariantResult], repeats: Int, machine: MachineInfo) {
    self.experiment = experiment
    // Curves are derived from the stages' points, so a report rewritten by a newer version draws them
    // on its own time axis whatever the recorded result holds.
    self.results = results.map { r in
      var r = r
      let points = timelineCurve(of: r.stages)
      r.curve = points.isEmpty ? nil : points
      let continued = timelineCurve(of: r.stages, continued: true)
      r.referenceCurve = continued.count > points.count ? continued : nil
      return r
    }
    self.repeats = max(1, repeats)
    self.machine = machine
    let summaries = Self.summaries(experiment, self.results)
    self.summaries = summaries
    (comparisons, outcome) = Self.comparisons(experiment, summaries, decision: experiment.plan.decision)
    speedUps = Self.speedUps(experiment, summaries, metric: experiment.plan.decision.primaryMetric)
  }

  /// results.json: the protocol, each variant over its seeds (per-seed values inside), the comparisons.
  public struct Document: Codable {
    public var plan: String
    public var title: String
    public var preset: String
    public var `protocol`: StudyProtocol
    public var variants: [VariantSummary]
    public var comparisons: [Comparison]
    public var speedUps: [SpeedUp]
    public var looks: [Int]
    public var designFinished: Bool
  }

  public var document: Document {
    Document(plan: experiment.plan.name, title: experiment.plan.title, preset: experiment.plan.preset,
             protocol: StudyProtocol(experiment: experiment, repeats: repeats, machine: machine),
             variants: summaries, comparisons: comparisons, speedUps: speedUps, looks: outcome.looksRead, designFinished: outcome.finished)
  }

  /// Writes the four files into the study directory (each atomically).
  public func write(to directory: StudyDirectory) throws {
    try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
    try writeAtomically(Data(markdown().utf8), to: directory.report)
    try writeAtomically(Data(html(studyDirectory: directory.url).utf8), to: directory.html)
    try writeAtomically(try resultsEncoder.encode(document), to: directory.resultsJSON)
    try writeAtomically(Data(csv().utf8), to: directory.resultsCSV)
  }

  /// How variants are made comparable, in words.
  var budgetSentence: String {
    let plan = experiment.plan
    switch plan.compare {
    case .time:
      let total = plan.stages.compactMap(\.seconds).reduce(0, +)
      var s = String(format: "Variants are compared at equal total training time: %.0f s of training steps each (%@). ", total,
                     plan.stages.map { String(format: "%@ %.0f s", $0.name, $0.seconds ?? 0) }.joined(separator: " + "))
      if let c = experiment.calibration, !c.entries.isEmpty {
        let sources = Set(c.entries.values.map(\.source))
        s += "Each budget was turned into steps by a calibration (\(sources.contains("plan") ? "carried by the plan" : "measured before training")"
          + (c.measuredOn.map { ", measured on \($0)" } ?? "") + "), so every seed and rerun trains the same steps; "
          + "the tables give the steps and the measured time."
      }
      return s
    case .steps:
      let total = plan.stages.compactMap(\.steps).reduce(0, +)
      return "Variants are compared at equal total steps: \(total) each (" + plan.stages.map { "\($0.name) \($0.steps ?? 0)" }.joined(separator: " + ") + ")."
    }
  }

  var evaluationSentence: String {
    let e = experiment.plan.evaluation
    let reference = e.reference.statistics.map { "the statistics in \($0)" }
      ?? "\(e.reference.count) real images of the \(e.reference.split) split of the final stage's data"
    let seeds = experiment.seeds(repeats: repeats).map(String.init).joined(separator: ", ")
    let along = e.along.map { " Along training, every \($0.every) of each stage's training, FID of \($0.samples) samples from the EMA snapshot"
      + " (time on the curves is training-step time: a point at step s of a stage sits at s × the stage's seconds per step,"
      + " its calibrated budget where it has one, else its measured time; the measured times are in results.json)." } ?? ""
    let resize = e.fidResize == .ttur ? "TTUR protocol" : "clean-fid's resize: PIL bicubic with antialiasing"
    return "FID (TF-FID Inception, \(resize)) of \(e.samples) samples (\(e.sampler.label), EMA weights) against \(reference)"
      + (e.kid ? "; KID from the same features" : "")
      + (e.precisionRecall ? "; improved precision and recall (k = 3 nearest neighbours, Kynkäänniemi et al. 2019) against the same real images" : "")
      + ".\(along) FID is biased upward at small sample counts: compare only at equal counts. "
      + "Training seeds: \(seeds) (\(repeats) per variant). " + intervalSentence
  }

  var intervalSentence: String {
    repeats >= 2
      ? "Intervals are 95% over training seeds (Student t); a difference is paired by seed, and its verdict is "
        + "*better* or *worse* when its interval excludes 0, *no clear difference at this budget* when it contains 0."
      : "With one training seed the FID interval is a bootstrap over the generated samples: the evaluation's own noise, "
        + "not the training seed's (which is usually larger); no verdicts. Run with repeats: 3 or more for verdicts."
  }

  func summary(_ slug: String) -> VariantSummary? { summaries.first { $0.slug == slug } }
  func comparison(_ study: String, _ slug: String) -> Comparison? { comparisons.first { $0.study == study && $0.slug == slug } }

  static let columns = ["FID, mean [95% CI]", "Δ primary metric vs reference [95% CI]", "verdict", "KID ×10³", "precision [95% CI]", "recall [95% CI]",
                        "steps per stage (measured time)",
                        "training time", "img/s", "peak MB"]

  /// One row's cells (the reference row and unrun rows leave the comparison blank).
  func cells(_ s: VariantSummary?, _ c: Comparison?, isReference: Bool) -> [String] {
    guard let s else { return ["not run"] + Array(repeating: "", count: Self.columns.count - 1) }
    guard s.finished else { return [s.failures.isEmpty ? "not run" : "failed"] + Array(repeating: "", count: Self.columns.count - 1) }
    // Steps (the same for every seed) and the measured training seconds (mean over seeds).
    let steps = s.stages.map { "\($0.name) \($0.steps) (\(seconds($0.trainSeconds)))" }.joined(separator: " + ")
    let difference = c.map { $0.difference.text(signed: true, scale: scale($0.metric)) } ?? (isReference ? "reference" : "")
    return [s.fid.map { $0.text() } ?? "—", difference, c.map { $0.verdict.label(margin: experiment.plan.decision.equivalenceMargin) } ?? "",
            s.kid.map { $0.text(scale: 1000) } ?? "—", s.precision.map { $0.text() } ?? "—", s.recall.map { $0.text() } ?? "—", steps,
            s.trainingSeconds.map { seconds($0.mean) } ?? "—", s.imagesPerSecond.map { formatted($0, digits: 0) } ?? "—",
            formatted(Double(s.peakMemoryBytes) / 1_048_576, digits: 0)]
  }

  /// report.md
  public func markdown() -> String {
    let plan = experiment.plan
    var md = "# \(markdownText(plan.title))\n\nPlan `\(markdownText(plan.name))`, preset `\(markdownText(plan.preset))`. \(markdownText(plan.description))\n\n"
    md += "\(markdownText(budgetSentence))\n\n\(markdownText(evaluationSentence))\n\nMachine: \(markdownText(machine.summary)).\n\n"
    md += answerMarkdown()
    for study in experiment.studies {
      md += studySection(study).markdown
    }
    let failed = summaries.flatMap { s in s.failures.map { (s.name, $0) } }
    if !failed.isEmpty {
      md += "## Failed runs\n\n" + failed.map { "- **\(markdownText($0.0))**, seed \($0.1.seed): \(markdownText($0.1.error))" }.joined(separator: "\n") + "\n\n"
    }
    md += "## Per seed\n\n| variant | seed | FID | KID ×10³ | precision | recall | steps | training s |\n|---|---|---|---|---|---|---|---|\n"
    for r in results where r.finished {
      let steps = r.stages.map { String($0.run.steps) }.joined(separator: " + ")
      md += "| \(markdownCell(r.name)) | \(r.seed.map(String.init) ?? "") | \(r.fid.map { formatted($0, digits: 2) } ?? "—") | "
        + "\(r.kidMean.map { formatted($0 * 1000, digits: 2) } ?? "—") | \(r.precision.map { formatted($0, digits: 3) } ?? "—") | "
        + "\(r.recall.map { formatted($0, digits: 3) } ?? "—") | \(steps) | \(formatted(r.trainingSeconds, digits: 1)) |\n"
    }
    let grids = results.filter { $0.seed == experiment.plan.base.seed }.compactMap { r in r.grid.map { "### \(markdownText(r.name))\n\n![\(markdownLinkText(r.name))](<\(markdownText($0))>)\n" } }
    if !grids.isEmpty { md += "\n## Samples (first seed)\n\n" + grids.joined(separator: "\n") + "\n" }
    md += "\nPer-seed numbers and the protocol: `results.json`, `results.csv`; the resolved plan: `plan.resolved.yaml`; "
      + (plan.compare == .time ? "the calibration: `calibration.json`; " : "") + "charts: `report.html`.\n"
    return md
  }

  /// A study's rows: the first is the reference the others are compared with.
  func rows(_ study: StudySection) -> [(label: String, cells: [String])] {
    study.rows.enumerated().map { i, row in
      (row.label, cells(summary(row.slug), comparison(study.name, row.slug), isReference: i == 0))
    }
  }

  /// A study's section: what it ablates and its table (the charts are report.html's).
  func studySection(_ study: StudySection) -> ReportSection {
    let failed = study.rows.indices.filter { i in summary(study.rows[i].slug).map { !($0.finished || $0.failures.isEmpty) } ?? false }
    return ReportSection(title: study.name,
                         paragraphs: ["\(study.action.rawValue) \(study.part); metrics: \(study.metrics.joined(separator: ", ")). "
                                        + "The first row is the reference of the others."],
                         table: ReportTable(header: ["variant"] + Self.columns, rows: rows(study).map { [$0.label] + $0.cells }),
                         failedRows: Set(failed))
  }

  /// results.csv: one line per variant and seed.
  public func csv() -> String {
    let header = ["name", "seed", "status", "fid", "fid_bootstrap_low", "fid_bootstrap_high", "fid_samples", "reference_samples",
                  "kid_mean", "kid_std", "precision", "recall", "training_seconds", "device_seconds", "warmup_seconds", "wall_seconds", "images_per_second",
                  "peak_memory_bytes", "stages", "studies", "error"]
    func num(_ d: Double?) -> String { d.map { "\($0)" } ?? "" }
    var out = header.joined(separator: ",") + "\n"
    for r in results {
      let stages = r.stages.map { "\($0.name):\($0.run.steps) steps:\(String(format: "%.1f", $0.run.trainSeconds))s" }.joined(separator: " ")
      let seed: String = r.seed.map { String($0) } ?? ""
      let counts: [String] = [r.fidSamples.map { String($0) } ?? "", r.referenceSamples.map { String($0) } ?? ""]
      let fids: [String] = [num(r.fid), num(r.fidBootstrapLow), num(r.fidBootstrapHigh)]
      let kids: [String] = [num(r.kidMean), num(r.kidStd), num(r.precision), num(r.recall)]
      let times: [String] = [num(r.trainingSeconds), num(r.deviceSeconds), num(r.warmupSeconds), num(r.wallSeconds), num(r.imagesPerSecond)]
      let rest: [String] = [String(r.peakMemoryBytes), stages, r.studies.joined(separator: "; "), r.error ?? ""]
      let fields: [String] = [r.name, seed, r.status] + fids.prefix(3) + counts + kids + times + rest
      out += fields.map(csvField).joined(separator: ",") + "\n"
    }
    return out
  }
}

extension Estimate {
  /// "77.0 [70.1, 84.2] (3 seeds)", "+12.3 [-4.1, 28.7] (3 seeds)", or "77.0 [71.2, 83.0] bootstrap, 1 seed".
  public func text(signed: Bool = false, scale: Double = 1) -> String { describe(self, signed: signed, scale: scale) }
}

private func describe(_ e: Estimate, signed: Bool, scale: Double) -> String {
  func f(_ v: Double) -> String {
    let x = v * scale
    let digits = abs(x) >= 100 ? 1 : 2
    return signed ? String(format: "%+.\(digits)f", x) : formatted(x, digits: digits)
  }
  guard let lo = e.low, let hi = e.high else { return "\(f(e.mean)) (1 seed)" }
  let bounds = "[\(f(lo)), \(f(hi))]"
  switch e.source {
  case .seeds: return "\(f(e.mean)) \(bounds) (\(e.n) seeds)"
  case .bootstrap: return "\(f(e.mean)) \(bounds) bootstrap, 1 seed"
  case .single: return f(e.mean)
  }
}

