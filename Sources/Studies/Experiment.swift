// A plan expanded into variants: the baseline schedule plus one variant per REMOVE and per
// replacement. Every stage gets an identity (a hash of its resolved configuration, budget and parent),
// so stages that are the same in two variants run once and variants that are the same are one.
import Foundation
import MaskDM
import Training

/// One training stage of one variant, fully resolved.
public struct PlannedStage: Equatable {
  public var name: String
  /// The configuration this stage trains with (budget included; the init path is set by the runner).
  public var config: TrainConfig
  /// The identity of the stage this one is initialised from.
  public var parent: String?
  /// A hash of the configuration, budget and parent: equal stages share one run.
  public var id: String
  /// The seconds of training this stage stands for (`compare: time`); with a calibration its
  /// configuration trains the steps those seconds buy.
  public var budgetSeconds: Double?
  /// The run directory's name inside the study's `runs/`.
  public var directoryName: String { "\(fileName(name))-\(id)" }
  /// True for masked (MDSM) stages.
  public var isMasked: Bool { config.isMasked }
}

/// One variant: a schedule of stages and how it is evaluated.
public struct Variant: Equatable {
  public var name: String
  /// File-name form of the name.
  public var slug: String
  public var stages: [PlannedStage]
  public var evaluation: EvaluationProtocol
  /// The studies (ablation names) this variant appears in.
  public var studies: [String]
  /// Identifies what the variant computes: its stages and its evaluation.
  public var key: String
  /// The training seed (every stage's; `Experiment.seeded` moves them together).
  public var seed: UInt64 { stages.first?.config.seed ?? 0 }
}

/// One study of the report: an ablation and the variants it compares.
public struct StudySection: Equatable {
  public var name: String
  public var part: String
  public var action: AblationAction
  public var metrics: [String]
  /// (label in this study, slug of the variant).
  public var rows: [Row]

  public struct Row: Equatable {
    public var label: String
    public var slug: String
  }
}

/// A plan expanded: unique variants (baseline first) and the studies that group them.
public struct Experiment {
  public var plan: StudyPlan
  public var variants: [Variant]
  public var studies: [StudySection]

  /// The step rates that turn time budgets into steps (nil: stages keep their seconds).
  public var calibration: Calibration?
  /// The DSM-only variant (one unmasked stage) of the studies that ask for a time to target: the
  /// speed-ups are read on its curve, which the runner trains on to `speedUpReferenceFactor` times its
  /// budget after its own evaluation (nil: no such study or variant).
  public var speedUpReference: String?
  /// How far DSM only's curve reaches, in multiples of its compared budget (its points double too).
  public static let speedUpReferenceFactor = 2
  /// Points along training every stage of a timed variant needs (DSM only's curve then has twice as many).
  public static let minimumPointsPerStage = 3

  /// Expands `plan`; every replacement is checked here, before anything runs. With `calibration`,
  /// each time budget becomes the step count its stage setting trains in that time.
  public init(plan: StudyPlan, calibration: Calibration? = nil) throws {
    self.plan = plan
    self.calibration = calibration
    let baselineDrafts = try plan.stages.map { stage -> StageDraft in
      StageDraft(spec: stage, config: try applying(plan.base, stage.set, source: "stage \(stage.name)"))
    }
    var set = VariantSet(plan: plan, calibration: calibration)
    let baselineSlug = try set.add(plan.baseline, baselineDrafts, plan.evaluation, study: nil)
    let expansion = PlanExpansion(plan: plan, baseline: baselineDrafts)
    let studies = try plan.ablations.map { try set.study(of: $0, expansion, baselineSlug: baselineSlug) }
    var variants = set.variants
    for i in variants.indices where variants[i].slug == baselineSlug {
      variants[i].studies = studies.filter { $0.rows.contains { $0.slug == baselineSlug } }.map(\.name)
    }
    // A baseline no study compares against (a pre-training-dataset plan alone) is not worth its training.
    if !studies.isEmpty { variants.removeAll { $0.slug == baselineSlug && $0.studies.isEmpty } }
    // Points along training cost an evaluation each: when some studies ask for a time to target, only
    // their variants are measured along training; when none asks, every variant is.
    let timed = Set(studies.filter { $0.metrics.contains("time to target") }.map(\.name))
    for i in variants.indices where !timed.isEmpty && timed.isDisjoint(with: variants[i].studies) {
      variants[i].evaluation.along = nil
      variants[i].key = variantKey(variants[i].stages, variants[i].evaluation)
    }
    if !timed.isEmpty, let along = plan.evaluation.along {
      for v in variants where v.evaluation.along != nil { try Self.checkPoints(of: v, along) }
    }
    self.variants = variants
    self.studies = studies
    speedUpReference = variants.first { v in
      !timed.isDisjoint(with: v.studies) && v.stages.count == 1 && !v.stages[0].isMasked
    }?.slug
  }

  /// A curve read for a speed-up needs a shape in every stage: at least 3 points each.
  static func checkPoints(of v: Variant, _ along: TimelineSpec) throws {
    for stage in v.stages {
      let budget = stage.budgetSeconds, steps = stage.config.trainSteps
      let n = along.points(steps: steps, budgetSeconds: budget)
      guard n >= Self.minimumPointsPerStage else {
        throw PlanError("evaluation.along.every (\(along.every)) gives stage \(stage.name) of \(v.name) \(n) point\(n == 1 ? "" : "s") "
                          + "along its training; a speed-up needs at least \(Self.minimumPointsPerStage) in every stage: make every at most a third of its "
                          + (budget.map { "\(formatted($0, digits: 0)) s" } ?? "\(steps) steps"))
      }
    }
  }

  /// The variants whose name, slug or study matches `filter` (case-insensitive); all when nil.
  public func select(_ filter: String?) throws -> [Variant] {
    guard let filter else { return variants }
    let f = filter.lowercased()
    let chosen = variants.filter { $0.name.lowercased() == f || $0.slug == f || $0.studies.contains { $0.lowercased() == f } }
    guard !chosen.isEmpty else {
      throw PlanError("--only \(filter) matches no variant or study; variants: \(variants.map(\.name).joined(separator: "; "))"
                        + "; studies: \(studies.map(\.name).joined(separator: "; "))")
    }
    return chosen
  }

  /// Every distinct stage, in the order a full run meets them.
  public var uniqueStages: [PlannedStage] {
    var seen = Set<String>()
    return variants.flatMap(\.stages).filter { seen.insert($0.id).inserted }
  }

  /// The training seeds of `repeats` repeats: the base configuration's seed, then the next ones.
  public func seeds(repeats: Int) -> [UInt64] { (0..<UInt64(max(1, repeats))).map { plan.base.seed &+ $0 } }

  /// `variant` trained with the `index`-th seed: every stage's seed moved by `index` (so a stage two
  /// variants share stays shared within a seed), the sampling seed too, and identities and key anew.
  /// Index 0 is the variant itself.
  public func seeded(_ variant: Variant, repeat index: Int) -> Variant {
    guard index > 0 else { return variant }
    var v = variant
    var ids: [String: String] = [:]
    for i in v.stages.indices {
      v.stages[i].config.seed = variant.stages[i].config.seed &+ UInt64(index)
      v.stages[i].parent = v.stages[i].parent.map { ids[$0] ?? $0 }
      v.stages[i].id = stageIdentity(name: v.stages[i].name, config: v.stages[i].config, parent: v.stages[i].parent)
      ids[variant.stages[i].id] = v.stages[i].id
    }
    v.evaluation.seed = variant.evaluation.seed &+ UInt64(index)
    v.key = variantKey(v.stages, v.evaluation)
    return v
  }

  /// One configuration per stage setting that trains for a time budget (what a calibration measures).
  public var timedSettings: [TrainConfig] {
    var seen = Set<SpeedSetting>()
    return uniqueStages.filter { $0.budgetSeconds != nil }.map(\.config).filter { seen.insert(SpeedSetting($0)).inserted }
  }
}

/// The variants of a plan as they are added: equal variants (the same key) are one.
struct VariantSet {
  let plan: StudyPlan
  let calibration: Calibration?
  private(set) var variants: [Variant] = []

  init(plan: StudyPlan, calibration: Calibration?) { (self.plan, self.calibration) = (plan, calibration) }

  /// Adds a variant (or finds the equal one already there) and returns its slug.
  mutating func add(_ name: String, _ drafts: [StageDraft], _ evaluation: EvaluationProtocol, study: String?) throws -> String {
    let stages = try resolve(drafts, plan: plan, calibration: calibration)
    let key = variantKey(stages, evaluation)
    if let i = variants.firstIndex(where: { $0.key == key }) {
      if let study, !variants[i].studies.contains(study) { variants[i].studies.append(study) }
      return variants[i].slug
    }
    var slug = slugify(name)
    while variants.contains(where: { $0.slug == slug }) { slug += "-\(variants.count)" }
    variants.append(Variant(name: name, slug: slug, stages: stages, evaluation: evaluation, studies: study.map { [$0] } ?? [], key: key))
    return slug
  }

  /// The study of one ablation: its variants added, its rows (the baseline's first, unless a
  /// pre-training-dataset study fine-tunes on its own target).
  mutating func study(of ablation: Ablation, _ expansion: PlanExpansion, baselineSlug: String) throws -> StudySection {
    var rows: [StudySection.Row] = []
    if !(ablation.part == .pretrainDataset && plan.datasets["target"] != nil) { rows.append(.init(label: plan.baseline, slug: baselineSlug)) }
    for choice in ablation.choices {
      let (label, drafts, evaluation) = try within(ablation.context) { try expansion.variant(choice) }
      let slug = try add("\(ablation.name): \(label)", drafts, evaluation, study: ablation.name)
      if let i = rows.firstIndex(where: { $0.slug == slug }) {
        rows[i].label += " = \(label)"  // e.g. mask rate 0.9 is the baseline itself
      } else {
        rows.append(.init(label: label, slug: slug))
      }
    }
    return StudySection(name: ablation.name, part: ablation.part.label, action: ablation.action, metrics: ablation.metrics, rows: rows)
  }
}

/// A stage before its identity is known.
struct StageDraft {
  var spec: StageSpec
  var config: TrainConfig
}

private func applying(_ config: TrainConfig, _ changes: [ConfigEdit], source: String) throws -> TrainConfig {
  try within([]) { try config.applying(changes, source: source) }
}

/// Gives each draft its budget and identity.
private func resolve(_ drafts: [StageDraft], plan: StudyPlan, calibration: Calibration?) throws -> [PlannedStage] {
  var out: [PlannedStage] = []
  for d in drafts {
    var c = d.config
    switch plan.compare {
    case .time:
      c.trainSeconds = d.spec.seconds
      if let steps = d.spec.steps { c.trainSteps = steps }
      if let seconds = d.spec.seconds, let steps = calibration?.steps(for: c, seconds: seconds) {
        c.trainSeconds = nil
        c.trainSteps = min(steps, d.spec.steps ?? .max)  // a stage's `steps:` stays a cap
      }
    case .steps:
      c.trainSeconds = nil
      c.trainSteps = d.spec.steps ?? c.trainSteps
    }
    c.pretrainedModelCkpt = ""
    // Evaluation along training measures the EMA snapshots the stage keeps.
    c.snapshotEvery = plan.evaluation.along?.snapshotEvery(steps: c.trainSteps, budgetSeconds: c.trainSeconds == nil ? d.spec.seconds : nil)
    try within(["stage \(d.spec.name)"]) { try c.validate() }
    let parent = try d.spec.initFrom.map { name -> String in
      guard let p = out.first(where: { $0.name == name }) else { throw PlanError("stage \(d.spec.name) starts from \(name), which this variant does not have") }
      return p.id
    }
    let id = stageIdentity(name: d.spec.name, config: c, parent: parent)
    out.append(PlannedStage(name: d.spec.name, config: c, parent: parent, id: id,
                            budgetSeconds: plan.compare == .time ? d.spec.seconds : nil))
  }
  return out
}

/// Lower-case letters, digits and dashes.
func slugify(_ text: String) -> String {
  var out = ""
  for c in text.lowercased() {
    if c.isLetter || c.isNumber, c.isASCII { out.append(c) } else if c == "." { out.append("p") } else if !out.hasSuffix("-") { out.append("-") }
  }
  return String(out.trimmingCharacters(in: CharacterSet(charactersIn: "-")).prefix(60))
}

