// A plan expanded into variants: the baseline schedule plus one variant per REMOVE and per
// replacement. Every stage gets an identity (a hash of its resolved configuration, budget and parent),
// so stages that are the same in two variants run once and variants that are the same are one.
import Foundation
import MaskDM
import Training
import Yams

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
    var variants: [Variant] = []
    var studies: [StudySection] = []
    let baselineDrafts = try plan.stages.map { stage -> StageDraft in
      StageDraft(spec: stage, config: try applying(plan.base, stage.set, source: "stage \(stage.name)"))
    }

    /// Adds a variant (or finds the equal one already there) and returns its slug.
    func add(_ name: String, _ drafts: [StageDraft], _ evaluation: EvaluationProtocol, study: String?) throws -> String {
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

    let baselineSlug = try add(plan.baseline, baselineDrafts, plan.evaluation, study: nil)
    for ablation in plan.ablations {
      let part = try PlanPart.recognize(ablation.part, replacements: ablation.replacements.map(\.text), action: ablation.action).part
      var rows: [StudySection.Row] = []
      // A pre-training-dataset study fine-tunes on its own target, so the baseline is not one of its rows.
      let ownTarget = part == .pretrainDataset && plan.datasets["target"] != nil
      if !ownTarget { rows.append(.init(label: plan.baseline, slug: baselineSlug)) }
      let choices: [Node?] = ablation.action == .remove ? [nil] : ablation.replacements
      for choice in choices {
        var evaluation = plan.evaluation
        let (label, drafts) = try apply(part, choice, to: baselineDrafts, evaluation: &evaluation, plan: plan, ablation: ablation)
        let slug = try add("\(ablation.name): \(label)", drafts, evaluation, study: ablation.name)
        if let i = rows.firstIndex(where: { $0.slug == slug }) {
          rows[i].label += " = \(label)"  // e.g. mask rate 0.9 is the baseline itself
        } else {
          rows.append(.init(label: label, slug: slug))
        }
      }
      studies.append(StudySection(name: ablation.name, part: part.label, action: ablation.action, metrics: ablation.metrics, rows: rows))
    }
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
    // A curve read for a speed-up needs a shape in every stage: at least 3 points each.
    for v in variants where v.evaluation.along != nil && !timed.isEmpty {
      for stage in v.stages {
        let budget = stage.budgetSeconds, steps = stage.config.trainSteps
        let n = plan.evaluation.along!.points(steps: steps, budgetSeconds: budget)
        guard n >= Self.minimumPointsPerStage else {
          throw PlanError("evaluation.along.every (\(plan.evaluation.along!.every)) gives stage \(stage.name) of \(v.name) \(n) point\(n == 1 ? "" : "s") "
                            + "along its training; a speed-up needs at least \(Self.minimumPointsPerStage) in every stage: make every at most a third of its "
                            + (budget.map { "\(formatted($0, digits: 0)) s" } ?? "\(steps) steps"))
        }
      }
    }
    self.variants = variants
    self.studies = studies
    speedUpReference = variants.first { v in
      !timed.isDisjoint(with: v.studies) && v.stages.count == 1 && !v.stages[0].isMasked
    }?.slug
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
    var seen = Set<String>()
    return uniqueStages.filter { $0.budgetSeconds != nil }.map(\.config).filter { seen.insert(speedSignature($0)).inserted }
  }
}

/// The identity of a stage: its name, resolved configuration (budget and seed included) and parent.
func stageIdentity(name: String, config: TrainConfig, parent: String?) -> String {
  String(fnv1aHex(name + "\n" + config.yaml() + "\n" + (parent ?? "")).prefix(10))
}

/// What a variant computes: its stages and its evaluation protocol.
func variantKey(_ stages: [PlannedStage], _ evaluation: EvaluationProtocol) -> String {
  fnv1aHex(stages.map(\.id).joined(separator: "/") + "|" + evaluation.identityText)
}

/// A stage before its identity is known.
struct StageDraft {
  var spec: StageSpec
  var config: TrainConfig
}

private func applying(_ config: TrainConfig, _ changes: [ConfigEdit], source: String) throws -> TrainConfig {
  do { return try config.applying(changes, source: source) } catch let e as ConfigError { throw PlanError(e.message) }
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
    do { try c.validate() } catch let e as ConfigError { throw PlanError("stage \(d.spec.name): \(e.message)") }
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

/// Applies one REMOVE (`choice` nil) or one replacement; returns the variant's label and stages.
private func apply(_ part: PlanPart, _ choice: Node?, to baseline: [StageDraft], evaluation: inout EvaluationProtocol,
                   plan: StudyPlan, ablation: Ablation) throws -> (String, [StageDraft]) {
  let masked = baseline.indices.filter { baseline[$0].config.isMasked }
  let unmasked = baseline.indices.filter { !baseline[$0].config.isMasked }
  var drafts = baseline
  /// Changes the configuration of the stages at `indices`.
  func edit(_ indices: [Int], _ change: (inout TrainConfig) throws -> Void) throws {
    for i in indices { try change(&drafts[i].config) }
  }
  /// Applies plan-written edits (keys and values as the plan gives them) to the stages at `indices`.
  func set(_ indices: [Int], _ changes: [ConfigEdit]) throws {
    for i in indices { drafts[i].config = try applying(drafts[i].config, changes, source: "ablation \(ablation.name)") }
  }
  func needMasked() throws -> [Int] {
    guard !masked.isEmpty else { throw PlanError("ablation \(ablation.name): the schedule has no masked stage to change") }
    return masked
  }
  let text = choice?.text ?? ""
  // The position embedding is the masked stages' (the paper's H); a schedule without one changes every stage.
  let embeddingStages = masked.isEmpty ? Array(drafts.indices) : masked

  if choice == nil {  // REMOVE
    switch part {
    case .positionEmbedding:
      try edit(embeddingStages) { $0.network.usePositionEmbedding = false }
      return ("without position embedding", drafts)
    case .schedule, .pretraining:
      return try single(.dsmOnly)
    case .finetuning:
      return try single(.mdsmOnly)
    case let .config(key):
      let off: ConfigEdit
      do { off = try ConfigEdit.disabling(key) } catch let e as ConfigError { throw PlanError("ablation \(ablation.name): \(e.message)") }
      try set(Array(drafts.indices), [off])
      return ("without \(key)", drafts)
    default:
      throw PlanError("ablation \(ablation.name): \(part.label) cannot be removed; use REPLACE with replacements")
    }
  }

  func single(_ choice: ScheduleChoice) throws -> (String, [StageDraft]) {
    guard choice != .twoStage else { return (choice.label, baseline) }
    let source: StageDraft
    if choice == .mdsmOnly {
      source = baseline[try needMasked()[0]]
    } else {
      guard let last = unmasked.last else { throw PlanError("ablation \(ablation.name): the schedule has no unmasked stage for DSM only") }
      source = baseline[last]
    }
    var stage = source
    stage.spec.name = choice == .mdsmOnly ? "mdsm" : "dsm"
    stage.spec.initFrom = nil
    stage.spec.seconds = baseline.compactMap(\.spec.seconds).reduce(0, +)
    stage.spec.steps = plan.compare == .steps ? baseline.compactMap(\.spec.steps).reduce(0, +) : source.spec.steps
    return (choice.label, [stage])
  }

  /// The masked stages get `text` of the total budget (a share, or absolute steps or seconds); the
  /// unmasked stages share the rest in their original proportions.
  func share(_ text: String) throws -> (String, [StageDraft]) {
    guard !masked.isEmpty, !unmasked.isEmpty else {
      throw PlanError("ablation \(ablation.name): the pre-training length needs a masked and an unmasked stage")
    }
    let byTime = plan.compare == .time
    func budget(_ d: StageDraft) -> Double { byTime ? d.spec.seconds ?? 0 : Double(d.spec.steps ?? 0) }
    let total = drafts.map(budget).reduce(0, +)
    let words = text.lowercased()
    let amount: Double
    if words.contains("step"), let n = firstInt(words) {
      guard !byTime else { throw PlanError("ablation \(ablation.name): this plan compares at equal time; give the share as a fraction or in seconds") }
      amount = Double(n)
    } else if let v = percentage(in: words) ?? Double(words.trimmingCharacters(in: .whitespaces)) {
      amount = v * total
    } else if byTime, let n = firstNumber(words) {
      amount = n  // seconds
    } else {
      throw PlanError("ablation \(ablation.name): pre-training length \(text) is not a share (0.25, 25%) or an amount (5000 steps, 20 s)")
    }
    guard amount > 0, amount < total else {
      throw PlanError("ablation \(ablation.name): pre-training length \(text) must leave part of the budget (\(format(total)) \(byTime ? "s" : "steps")) to fine-tuning; REMOVE a stage for a single stage")
    }
    func assign(_ indices: [Int], _ part: Double) {
      let old = indices.map { budget(drafts[$0]) }.reduce(0, +)
      for i in indices {
        let value = old > 0 ? part * budget(drafts[i]) / old : part / Double(indices.count)
        if byTime { drafts[i].spec.seconds = value } else { drafts[i].spec.steps = Int(value.rounded()) }
      }
    }
    assign(masked, amount)
    assign(unmasked, total - amount)
    return ("pre-training \(format(100 * amount / total))% of the budget", drafts)
  }

  switch part {
  case .positionEmbedding:
    guard let on = choice?.bool else { throw PlanError("ablation \(ablation.name): position embedding replacements are true or false") }
    try edit(embeddingStages) { $0.network.usePositionEmbedding = on }
    return (on ? "with position embedding" : "without position embedding", drafts)
  case .schedule:
    return try single(try ScheduleChoice.parse(text))
  case .maskRate:
    let rate = try fraction(choice!, what: "mask rate")
    try edit(try needMasked()) { $0.dataset.maskRatio = rate }
    return (String(format: "%g", rate), drafts)
  case .maskType:
    let t = text.lowercased()
    let type: MaskType
    var size: Int? = nil
    if t.hasPrefix("patch") {
      type = .patch
    } else if t.hasPrefix("block") {
      guard let b = firstInt(t) else { throw PlanError("ablation \(ablation.name): write block masking as \"block N\" (N patches a side)") }
      (type, size) = (.block, b)
    } else if t.hasPrefix("crop") {
      (type, size) = (.crop, firstInt(t) ?? -1)
    } else {
      throw PlanError("ablation \(ablation.name): unknown mask type \(text); use patch, block N or crop [N]")
    }
    // A mask type crossed with a rate (the paper's Sec. 4.2 grid): "block 4 at 50%".
    let rate = percentage(in: t)
    try edit(try needMasked()) { c in
      c.dataset.maskType = type
      if type == .block { c.dataset.maskBlockSize = size! }
      if type == .crop { c.dataset.maskCropSize = size! }
      if let rate { c.dataset.maskRatio = rate }
    }
    return (text, drafts)
  case .blockSize, .cropSize:
    guard let n = choice?.int ?? trailingInt(text) else { throw PlanError("ablation \(ablation.name): \(part.label) replacements are whole numbers") }
    let block = part == .blockSize
    try edit(try needMasked()) { c in
      c.dataset.maskType = block ? .block : .crop
      if block { c.dataset.maskBlockSize = n } else { c.dataset.maskCropSize = n }
    }
    return ("\(block ? "block" : "crop") \(n)", drafts)
  case .pretrainDataset:
    let settings: [ConfigEdit]
    if choice?.mapping != nil {
      settings = try planEdits(choice, path: "replacement", section: "dataset")
    } else if let named = plan.datasets[text] {
      settings = named
    } else {
      throw PlanError("ablation \(ablation.name): dataset \(text) is not under the plan's datasets: (known: "
                        + "\(plan.datasets.keys.sorted().joined(separator: ", "))); add it with its NAME and PATH")
    }
    // A named dataset starts from all of its images, wherever the base's data came from.
    func reset(_ c: inout TrainConfig) { (c.dataset.classes, c.dataset.fraction, c.dataset.path) = (nil, 1, "") }
    try edit(try needMasked(), reset)
    try set(masked, settings)
    if let target = plan.datasets["target"] {
      try edit(unmasked, reset)
      try set(unmasked, target)
    }
    return (text, drafts)
  case .finetuneFraction:
    let f = try fraction(choice!, what: "fine-tuning data fraction")
    guard !unmasked.isEmpty else { throw PlanError("ablation \(ablation.name): the schedule has no fine-tuning (unmasked) stage") }
    try edit(unmasked) { $0.dataset.fraction = f }
    return (String(format: "%g%%", f * 100), drafts)
  case .noiseSchedule:
    let schedule: BetaSchedule
    do { schedule = try BetaSchedule.parse(text, key: "noise schedule") } catch let e as ConfigError {
      throw PlanError("ablation \(ablation.name): \(e.message)")
    }
    try edit(Array(drafts.indices)) { $0.betaSchedule = schedule }
    return (text, drafts)
  case .sampler:
    // "ddim 25", "dpm++2m 10", "ddpm": a sampler name, then optionally its steps.
    let t = text.lowercased().trimmingCharacters(in: .whitespaces)
    guard let name = Sampler.names.sorted(by: { $0.count > $1.count }).first(where: { t.hasPrefix($0) }) else {
      throw PlanError("ablation \(ablation.name): sampler replacements are \(Sampler.names.map { $0 == "ddpm" ? $0 : "\($0) [steps]" }.joined(separator: ", ")) (got \(text))")
    }
    do {
      evaluation.sampler = try Sampler.parse(name, steps: trailingInt(String(t.dropFirst(name.count))) ?? evaluation.sampler.steps ?? 50,
                                             eta: evaluation.sampler.eta ?? 0)
    } catch let error as ModelError {
      throw PlanError("ablation \(ablation.name): \(error.message)")
    }
    return (evaluation.sampler.steps.map { "\(evaluation.sampler.name.uppercased()) \($0) steps" } ?? "DDPM", drafts)
  case .objective:
    guard let objective = objectiveValue(text) else {
      throw PlanError("ablation \(ablation.name): \(text) is not a prediction target; use pred_noise (eps), pred_x0 (x0) or pred_v (v)")
    }
    try edit(Array(drafts.indices)) { $0.objective = objective }
    return (objective.configName, drafts)
  case .pretrainShare:
    return try share(text)
  case .pretraining, .finetuning:
    throw PlanError("ablation \(ablation.name): the \(part.label) stage can be removed; to change its length, ablate the pre-training length")
  case let .config(key):
    let change: ConfigEdit
    do { change = try ConfigEdit(key: key, value: choice!) } catch let e as ConfigError { throw PlanError("ablation \(ablation.name): \(e.message)") }
    try set(Array(drafts.indices), [change])
    return ("\(key) = \(text)", drafts)
  }
}

private func format(_ v: Double) -> String { String(format: "%g", (v * 10).rounded() / 10) }

/// Lower-case letters, digits and dashes.
func slugify(_ text: String) -> String {
  var out = ""
  for c in text.lowercased() {
    if c.isLetter || c.isNumber, c.isASCII { out.append(c) } else if c == "." { out.append("p") } else if !out.hasSuffix("-") { out.append("-") }
  }
  return String(out.trimmingCharacters(in: CharacterSet(charactersIn: "-")).prefix(60))
}

