// How one typed choice of an ablation changes the baseline schedule into a variant: a switch of short
// cases over `PlanChoice`. The choices were read and checked when the plan was; what is checked here
// is what depends on the schedule (a masked stage to change, a budget to share).
import Foundation
import MaskDM
import Training

/// The baseline schedule of a plan, which every variant changes.
struct PlanExpansion {
  let plan: StudyPlan
  let baseline: [StageDraft]
  /// The masked (pre-training) and unmasked stages of the baseline.
  let masked: [Int], unmasked: [Int]

  init(plan: StudyPlan, baseline: [StageDraft]) {
    (self.plan, self.baseline) = (plan, baseline)
    masked = baseline.indices.filter { baseline[$0].config.isMasked }
    unmasked = baseline.indices.filter { !baseline[$0].config.isMasked }
  }

  /// The variant of one choice: its label, its stages and its evaluation protocol.
  func variant(_ r: PlanReplacement) throws -> (String, [StageDraft], EvaluationProtocol) {
    var evaluation = plan.evaluation
    let written = r.written ?? ""
    switch r.choice {
    case let .positionEmbedding(on):
      // The position embedding is the masked stages' (the paper's H); a schedule without one changes every stage.
      let stages = try edited(masked.isEmpty ? Array(baseline.indices) : masked) { $0.network.usePositionEmbedding = on }
      return (on ? "with position embedding" : "without position embedding", stages, evaluation)
    case let .schedule(s):
      return (s.label, try single(s), evaluation)
    case let .maskRate(rate):
      return (gFormat(rate), try edited(try needMasked()) { $0.dataset.maskRatio = rate }, evaluation)
    case let .mask(kind, rate):
      return (written, try edited(try needMasked()) { ($0.dataset.mask, $0.dataset.maskRatio) = (kind, rate ?? $0.dataset.maskRatio) }, evaluation)
    case let .blockSize(n):
      return ("block \(n)", try edited(try needMasked()) { $0.dataset.mask = .block(n) }, evaluation)
    case let .cropSize(n):
      return ("crop \(n)", try edited(try needMasked()) { $0.dataset.mask = .crop(n) }, evaluation)
    case let .dataset(_, settings):
      return (written, try pretrainingData(settings), evaluation)
    case let .dataFraction(f):
      guard !unmasked.isEmpty else { throw PlanError("the schedule has no fine-tuning (unmasked) stage") }
      return ("\(gFormat(f * 100))%", try edited(unmasked) { $0.dataset.fraction = f }, evaluation)
    case let .noiseSchedule(s):
      return (written, try edited(Array(baseline.indices)) { $0.betaSchedule = s }, evaluation)
    case let .sampler(s):
      evaluation.sampler = try s.resolved(over: evaluation.sampler)
      return (evaluation.sampler.steps.map { "\(evaluation.sampler.name.uppercased()) \($0) steps" } ?? "DDPM", baseline, evaluation)
    case let .objective(o):
      return (o.configName, try edited(Array(baseline.indices)) { $0.objective = o }, evaluation)
    case let .budgetShare(share):
      return try shared(share)
    case let .setting(edit):
      let label = r.written == nil ? "without \(edit.key)" : "\(edit.key) = \(written)"
      return (label, try edited(Array(baseline.indices)) { c in c = try c.applying([edit], source: edit.key) }, evaluation)
    }
  }

  /// The baseline with `change` made to the configurations of the stages at `indices`.
  private func edited(_ indices: [Int], _ change: (inout TrainConfig) throws -> Void) throws -> [StageDraft] {
    var drafts = baseline
    for i in indices { try change(&drafts[i].config) }
    return drafts
  }

  private func needMasked() throws -> [Int] {
    guard !masked.isEmpty else { throw PlanError("the schedule has no masked stage to change") }
    return masked
  }

  /// The masked stages on a dataset's `settings` (and the unmasked ones on the plan's `target`), each
  /// starting from all of its images, wherever the base's data came from.
  private func pretrainingData(_ settings: [ConfigEdit]) throws -> [StageDraft] {
    func reset(_ c: inout TrainConfig) { (c.dataset.classes, c.dataset.fraction, c.dataset.path) = (nil, 1, "") }
    var drafts = try edited(try needMasked()) { c in reset(&c); c = try c.applying(settings, source: "dataset") }
    if let target = plan.datasets["target"] {
      for i in unmasked {
        reset(&drafts[i].config)
        drafts[i].config = try drafts[i].config.applying(target, source: "datasets.target")
      }
    }
    return drafts
  }

  /// One stage for the whole budget (two-stage: the baseline itself).
  private func single(_ choice: ScheduleChoice) throws -> [StageDraft] {
    guard choice != .twoStage else { return baseline }
    let source: StageDraft
    if choice == .mdsmOnly {
      source = baseline[try needMasked()[0]]
    } else {
      guard let last = unmasked.last else { throw PlanError("the schedule has no unmasked stage for DSM only") }
      source = baseline[last]
    }
    var stage = source
    stage.spec.name = choice == .mdsmOnly ? "mdsm" : "dsm"
    stage.spec.initFrom = nil
    stage.spec.seconds = baseline.compactMap(\.spec.seconds).reduce(0, +)
    stage.spec.steps = plan.compare == .steps ? baseline.compactMap(\.spec.steps).reduce(0, +) : source.spec.steps
    return [stage]
  }

  /// The masked stages get `share` of the total budget; the unmasked stages share the rest in their
  /// original proportions.
  private func shared(_ share: BudgetShare) throws -> (String, [StageDraft], EvaluationProtocol) {
    guard !masked.isEmpty, !unmasked.isEmpty else { throw PlanError("the pre-training length needs a masked and an unmasked stage") }
    let byTime = plan.compare == .time
    func budget(_ d: StageDraft) -> Double { byTime ? d.spec.seconds ?? 0 : Double(d.spec.steps ?? 0) }
    let total = baseline.map(budget).reduce(0, +)
    let amount = share.amount(of: total)
    guard amount > 0, amount < total else {
      throw PlanError("pre-training length \(share.spelling) must leave part of the budget (\(oneDecimal(total)) \(byTime ? "s" : "steps")) "
                        + "to fine-tuning; REMOVE a stage for a single stage")
    }
    var drafts = baseline
    func assign(_ indices: [Int], _ part: Double) {
      let old = indices.map { budget(baseline[$0]) }.reduce(0, +)
      for i in indices {
        let value = old > 0 ? part * budget(baseline[i]) / old : part / Double(indices.count)
        if byTime { drafts[i].spec.seconds = value } else { drafts[i].spec.steps = Int(value.rounded()) }
      }
    }
    assign(masked, amount)
    assign(unmasked, total - amount)
    return ("pre-training \(oneDecimal(100 * amount / total))% of the budget", drafts, plan.evaluation)
  }
}

