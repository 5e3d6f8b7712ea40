// The plan reader's ablations: each `ablations:` entry compiled once, when the plan is read, into its
// part and one typed choice per variant (PlanChoice.swift). Every error names where it is: the plan
// file and line, the ablation and the replacement, with the choices the part takes.
import Foundation
import MaskDM
import Training
import Yams

/// What an ablation's choices are read against: the rest of the plan, read before them.
struct ChoiceContext {
  var compare: BudgetKind
  var datasets: [String: [ConfigEdit]]
  var evaluation: EvaluationProtocol
  var base: TrainConfig
  /// "plan demo.yaml" (or "the plan" for a plan given as text).
  var plan: String

  /// "plan demo.yaml line 14" for a node the reader marked.
  func place(_ node: Node) -> String { node.mark.map { "\(plan) line \($0.line)" } ?? plan }
}

extension StudyPlan {
  static func readAblation(_ node: Node, index: Int, context: ChoiceContext) throws -> Ablation {
    let m = try PlanMapping(node, path: "ablations[\(index)]", allowed: ["name", "part", "action", "replacements", "metrics"])
    let partText = try m.string("part")
    let name = try m.string("name") ?? partText ?? "ablations[\(index)]"
    let places = [context.place(node), "ablation \(name)"]
    let (part, action, nodes) = try within(places) { () throws -> (PlanPart, AblationAction, [Node]) in
      guard let partText else { throw PlanError("\(m.at("part")) is missing: name the ablated part") }
      try checkName(name, m.at("name"), isFileName: false)
      let actionText = try m.string("action") ?? "REPLACE"
      guard let action = AblationAction(rawValue: actionText.uppercased()) else {
        throw PlanError("\(m.at("action")) must be REMOVE or REPLACE (got \(actionText))")
      }
      let nodes = try m.sequence("replacements")
      if action == .replace, nodes.isEmpty {
        throw PlanError("\(m.at("replacements")): a REPLACE ablation needs at least one replacement")
      }
      return (try PlanPart.recognize(partText, replacements: nodes.map(\.text), action: action).part, action, nodes)
    }
    let choices = try action == .remove
      ? [within(places) { PlanReplacement(choice: try part.removal(), written: nil) }]
      : nodes.map { n in
        try within([context.place(n), "ablation \(name)", "replacement '\(n.text)'"]) {
          PlanReplacement(choice: try part.choice(n, context), written: n.text)
        }
      }
    let metrics = try within(places) { try readMetrics(m) }
    return Ablation(name: name, part: part, action: action, choices: choices, metrics: metrics, context: places)
  }

  static func readMetrics(_ m: PlanMapping) throws -> [String] {
    let metrics = try m.sequence("metrics").map { node -> String in
      let name = canonicalMetric(node.text)
      guard Self.knownMetrics.contains(name) else {
        throw PlanError("\(m.at("metrics")): unknown metric \(node.text); the report measures \(Self.knownMetrics.joined(separator: ", "))")
      }
      return name
    }
    return metrics.isEmpty ? ["FID", "training time"] : metrics
  }
}

extension PlanPart {
  /// What REMOVE of this part is, as a choice.
  func removal() throws -> PlanChoice {
    switch self {
    case .positionEmbedding: return .positionEmbedding(false)
    case .schedule, .pretraining: return .schedule(.dsmOnly)
    case .finetuning: return .schedule(.mdsmOnly)
    case let .config(key): return .setting(try ConfigEdit.disabling(key))
    default: throw PlanError("\(label) cannot be removed; use REPLACE with replacements (\(choicesText))")
    }
  }

  /// What this part's replacements may be, for messages.
  var choicesText: String {
    switch self {
    case .config: return "a value of \(label)"
    default: return Self.known.first { normalisedWords($0.name) == normalisedWords(label) || normalisedWords($0.name) == normalisedWords(canonicalName) }?.meaning
      ?? label
    }
  }

  /// One replacement read as this part's choice.
  func choice(_ node: Node, _ context: ChoiceContext) throws -> PlanChoice {
    let text = node.text
    switch self {
    case .positionEmbedding:
      guard let on = node.bool else { throw PlanError("position embedding replacements are true or false") }
      return .positionEmbedding(on)
    case .schedule: return .schedule(try ScheduleChoice.parse(text))
    case .maskRate: return .maskRate(try fraction(node, what: "mask rate"))
    case .maskType: return try maskChoice(text)
    case .blockSize, .cropSize:
      guard let n = node.int ?? trailingInt(text) else { throw PlanError("\(label) replacements are whole numbers") }
      return self == .blockSize ? .blockSize(n) : .cropSize(n)
    case .pretrainDataset: return try datasetChoice(node, context)
    case .finetuneFraction: return .dataFraction(try fraction(node, what: "fine-tuning data fraction"))
    case .noiseSchedule: return .noiseSchedule(try BetaSchedule.parse(text, key: "noise schedule"))
    case .sampler: return .sampler(try samplerChoice(text, over: context.evaluation.sampler))
    case .objective:
      guard let objective = objectiveValue(text) else {
        throw PlanError("\(text) is not a prediction target; use pred_noise (eps), pred_x0 (x0) or pred_v (v)")
      }
      return .objective(objective)
    case .pretrainShare: return .budgetShare(try budgetShare(text, byTime: context.compare == .time))
    case .pretraining, .finetuning:
      throw PlanError("the \(label) stage can be removed; to change its length, ablate the pre-training length")
    case let .config(key):
      let edit = try ConfigEdit(key: key, value: node)
      _ = try context.base.applying([edit], source: key)
      return .setting(edit)
    }
  }
}

/// `patch`, `block N` or `crop [N]`, with a rate crossed with it ("block 4 at 50%").
func maskChoice(_ text: String) throws -> PlanChoice {
  let t = text.lowercased()
  let rate = percentage(in: t)
  // The size is the first whole number that is not the rate.
  let size = firstInt(t.split(separator: " ").filter { !$0.contains("%") }.joined(separator: " "))
  if t.hasPrefix("patch") { return .mask(.patch, rate: rate) }
  if t.hasPrefix("block") {
    guard let size else { throw PlanError("write block masking as \"block N\" (N patches a side); mask types are patch, block N or crop [N]") }
    return .mask(.block(size), rate: rate)
  }
  if t.hasPrefix("crop") { return .mask(.crop(size), rate: rate) }
  throw PlanError("unknown mask type \(text); use patch, block N or crop [N]")
}

/// A dataset of the plan's `datasets:` by name, or one written inline as a mapping of dataset keys.
func datasetChoice(_ node: Node, _ context: ChoiceContext) throws -> PlanChoice {
  if node.mapping != nil { return .dataset(name: node.text, settings: try planEdits(node, path: "replacement", section: "dataset")) }
  guard let named = context.datasets[node.text] else {
    throw PlanError("dataset \(node.text) is not under the plan's datasets: (known: "
                      + "\(context.datasets.keys.sorted().joined(separator: ", "))); add it with its NAME and PATH")
  }
  return .dataset(name: node.text, settings: named)
}

/// "ddim 25", "dpm++2m 10", "ddpm": a sampler's name, then optionally its steps; checked over the
/// evaluation's sampler.
func samplerChoice(_ text: String, over evaluation: Sampler) throws -> SamplerChoice {
  let t = text.lowercased().trimmingSpaces()
  guard let (spelling, name) = Sampler.spellings.first(where: { t.hasPrefix($0.spelling) }) else {
    throw PlanError("sampler replacements are \(Sampler.names.map { $0 == "ddpm" ? $0 : "\($0) [steps]" }.joined(separator: ", ")) (got \(text))")
  }
  let choice = SamplerChoice(name: name, steps: trailingInt(String(t.dropFirst(spelling.count))))
  _ = try choice.resolved(over: evaluation)
  return choice
}

/// The masked stage's share: a fraction (0.25, 25%), steps (5000 steps, `compare: steps`) or seconds (20 s, `compare: time`).
func budgetShare(_ text: String, byTime: Bool) throws -> BudgetShare {
  let words = text.lowercased()
  if words.contains("step"), let n = firstInt(words) {
    guard !byTime else { throw PlanError("this plan compares at equal time; give the pre-training length as a fraction or in seconds") }
    return .steps(n)
  }
  if let v = percentage(in: words) { return .share(v, percent: true) }
  if let v = Double(words.trimmingSpaces()) { return .share(v, percent: false) }
  if byTime, let n = firstNumber(words) { return .seconds(n) }
  throw PlanError("pre-training length \(text) is not a share (0.25, 25%) or an amount (5000 steps, 20 s)")
}

/// A number written as 0.1 or 10%.
func fraction(_ node: Node, what: String) throws -> Double {
  let text = spelledNumbers(node.text).trimmingCharacters(in: .whitespaces)
  if text.hasSuffix("%"), let v = Double(text.dropLast().trimmingCharacters(in: .whitespaces)) { return v / 100 }
  if let v = Double(text) { return v }
  throw PlanError("\(what) replacement \(text) is not a number (write 0.1 or 10%)")
}
