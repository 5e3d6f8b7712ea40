// The replacements of an imported plan as a plan writes them: numbers for rates and fractions,
// `block N` for masks, `ddim N` for samplers, schedule names. Where the prose leaves something out,
// the authors' default is taken and said (a mask kind without its size, a sampler's steps without its
// name, a fraction without its unit); REMOVE of a component that has an "off" value is that value.
import Foundation
import MaskDM
import Training
import Yams

/// A replacement as an imported plan writes it.
public struct ImportedValue: Equatable {
  public var text: String
  /// What the importer filled in, when the plan left something out (for `--explain` and the plan's comments).
  public var note: String?
}

/// The authors' block size where a plan says "block masking" without one: `MASK_BLOCK_SIZE: 4` in their
/// `configs/base.yml` (and every transfer and CelebA-HQ configuration).
let authorsBlockSize = 4

extension PlanPart {
  /// `text` read as a replacement of this part, in the spelling a plan writes; an error says what
  /// the part takes.
  public func importedValue(_ text: String) throws -> ImportedValue {
    let raw = text.trimmingSpaces()
    switch self {
    case .positionEmbedding:
      guard let on = switchValue(raw) else { throw PlanError("position embedding replacements are true or false (got \(raw))") }
      return ImportedValue(text: on ? "true" : "false")
    case .schedule:
      return ImportedValue(text: try ScheduleChoice.parse(raw).rawValue)
    case .maskRate, .finetuneFraction:
      return try fractionImported(raw)
    case .maskType:
      return try maskKindImported(raw)
    case .blockSize, .cropSize:
      guard let n = patchCount(raw) else { throw PlanError("\(label) replacements are whole numbers of patches a side (got \(raw))") }
      return ImportedValue(text: String(n))
    case .pretrainDataset:
      return try datasetImported(raw)
    case .noiseSchedule:
      guard let s = BetaSchedule.allCases.first(where: { contains(normalisedWords(raw), $0.rawValue) }) else {
        throw PlanError("\(raw) is not a noise schedule; use linear or cosine")
      }
      return ImportedValue(text: s.rawValue)
    case .sampler:
      return try samplerImported(raw)
    case .objective:
      guard let o = objectiveValue(raw) else { throw PlanError("\(raw) is not a prediction target; use pred_noise, pred_x0 or pred_v") }
      return ImportedValue(text: o.configName)
    case .pretrainShare:
      return try budgetImported(raw)
    case .pretraining, .finetuning:
      throw PlanError("the \(label) stage can only be removed; to change its length, ablate the pre-training length")
    case let .config(key):
      let edit = try ConfigEdit(key: key, value: Node(raw))
      _ = try within([]) { try TrainConfig().applying([edit], source: "replacement") }
      return ImportedValue(text: raw)
    }
  }

  /// The setting REMOVE means for a component that has an "off" value, and what that is.
  public var offValue: ImportedValue? {
    switch self {
    case .config("ema_decay"):
      return ImportedValue(text: "0", note: "no weight averaging is EMA decay 0: samples come from the raw (not averaged) weights")
    case .config("warmup_steps"):
      return ImportedValue(text: "0", note: "no warm-up is warmup_steps 0: the full learning rate from the first step")
    case .config("weight_decay"):
      return ImportedValue(text: "0", note: "no weight decay is weight_decay 0")
    case .config("clip_grad"):
      return ImportedValue(text: "null", note: "no gradient clipping is clip_grad null")
    case .config("dataset.hflip_prob"):
      return ImportedValue(text: "0", note: "no horizontal flips is dataset.hflip_prob 0")
    default:
      return nil
    }
  }

  /// True when an ablation of this part changes every stage alike (configuration keys, the noise
  /// schedule, the prediction target), whatever stage its wording names.
  var changesEveryStage: Bool {
    switch self {
    case .noiseSchedule, .objective, .config: return true
    default: return false
    }
  }

  /// True when a plan may REMOVE this part as it is (the expansion knows what removing it means).
  var isRemovable: Bool {
    switch self {
    case .positionEmbedding, .schedule, .pretraining, .finetuning: return true
    case let .config(key): return (try? ConfigEdit.disabling(key)) != nil
    default: return false
    }
  }
}

/// true/false, on/off, with/without, yes/no.
private func switchValue(_ text: String) -> Bool? {
  let w = normalisedWords(text)
  if ["true", "on", "with", "yes", "enabled", "kept", "keep"].contains(where: { contains(w, $0) }) { return true }
  if ["false", "off", "without", "no", "disabled", "removed", "none"].contains(where: { contains(w, $0) }) { return false }
  return nil
}

/// Fractions in words beyond `spelledNumbers`: "a tenth" → 10%, "all of the data" → 100%.
private func spelledFraction(_ text: String) -> String {
  let w = normalisedWords(text)
  let parts = [("tenth", "10%"), ("hundredth", "1%"), ("fifth", "20%"), ("third", "33.3%")]
  for (words, value) in parts where contains(w, "a \(words)") || contains(w, "one \(words)") {
    return value
  }
  if ["all", "full", "entire", "whole"].contains(where: { contains(w, $0) }), firstNumber(text) == nil { return "100%" }
  return spelledNumbers(text)
}

/// A side in patches: "4", "4x4", "4 patches", "block 4", "8 x 8 patches a side".
private func patchCount(_ raw: String) -> Int? {
  let allowed: Set<Substring> = ["x", "patch", "patches", "token", "tokens", "a", "side", "per", "of", "size", "wide", "squares", "square"]
  let words = normalisedWords(raw).split(separator: " ").flatMap { $0.split(separator: "x", omittingEmptySubsequences: false) }
  let numbers = words.compactMap { Int($0) }
  guard let n = numbers.first, n > 0, Set(numbers).count == 1, words.allSatisfy({ $0.isEmpty || Int($0) != nil || allowed.contains($0)
    || $0.hasPrefix("block") || $0.hasPrefix("crop") || $0 == "window" }) else { return nil }
  return n
}

/// A number that is only a number ("0.5", "1e-4").
func isNumberValue(_ text: String) -> Bool { Double(text.trimmingSpaces()) != nil }

/// A share or rate: 0.1, 10%, "ten percent", "1/10"; a number above 1 without a unit is a percentage (said).
func fractionImported(_ raw: String) throws -> ImportedValue {
  let t = spelledFraction(raw)
  if let p = percentage(in: t) { return ImportedValue(text: gFormat(p)) }
  let parts = t.split(separator: "/").map { Double($0.trimmingSpaces()) }
  if parts.count == 2, let a = parts[0], let b = parts[1], b > 0 { return ImportedValue(text: gFormat(a / b)) }
  guard let d = Double(t.trimmingSpaces()), d >= 0, d <= 100 else {
    throw PlanError("\(raw) is not a fraction (write 0.1 or 10%)")
  }
  guard d > 1 else { return ImportedValue(text: gFormat(d)) }
  return ImportedValue(text: gFormat(d / 100), note: "\(raw) has no unit: read as \(raw)% (a fraction is at most 1)")
}

/// The masked stage's share of the budget: 25%, 0.25, 5000 steps, 20 s (or 2 min); a number above 1
/// without a unit is a percentage (said).
func budgetImported(_ raw: String) throws -> ImportedValue {
  let t = spelledFraction(raw)
  let w = normalisedWords(t)
  if let p = percentage(in: t) { return ImportedValue(text: "\(gFormat(p * 100))%") }
  if let n = firstNumber(t), contains(w, "step*") || contains(w, "iteration*") { return ImportedValue(text: "\(Int(n)) steps") }
  if let n = firstNumber(t), contains(w, "min*") { return ImportedValue(text: "\(gFormat(n * 60)) s") }
  if let n = firstNumber(t), contains(w, "s") || contains(w, "sec*") { return ImportedValue(text: "\(gFormat(n)) s") }
  guard let d = Double(t.trimmingSpaces()), d > 0, d < 100 else {
    throw PlanError("\(raw) is not a share of the budget (0.25, 25%) or an amount (5000 steps, 20 s)")
  }
  guard d >= 1 else { return ImportedValue(text: t.trimmingSpaces()) }
  return ImportedValue(text: "\(gFormat(d))%", note: "\(raw) has no unit: read as \(raw)% of the budget")
}

/// A value only the pre-training length takes: a share of the budget or a time.
func isBudgetAmount(_ raw: String) -> Bool {
  let w = normalisedWords(raw)
  return contains(w, "budget") || (firstNumber(raw) != nil && ["s", "sec*", "min*", "minutes"].contains { contains(w, $0) })
}

/// A mask as a plan writes it: its kind, its size (patches a side) and a rate crossed with it.
func maskKindValue(_ raw: String) -> (kind: MaskType, size: Int?, rate: Double?)? {
  let w = normalisedWords(raw)
  let kind: MaskType
  let spelled = spelledNumbers(raw)
  let rate = percentage(in: spelled)
  // The size is the first whole number that is not the rate ("block 4 at 50%", "4x4 blocks").
  let size = firstInt(spelled.split(separator: " ").filter { !$0.contains("%") }.joined(separator: " "))
  if contains(w, "block*") { kind = .block } else if contains(w, "crop*") || contains(w, "window") { kind = .crop }
  else if size == nil, contains(w, "patch*") || contains(w, "random") || contains(w, "token*") { kind = .patch } else { return nil }
  return (kind, size, rate)
}

/// `patch`, `block N` or `crop [N]`, with ` at R%` when a rate is crossed with it; a block without a
/// size takes the authors' 4, a crop without one a window sized to the mask rate (both said).
private func maskKindImported(_ raw: String) throws -> ImportedValue {
  guard let (kind, size, rate) = maskKindValue(raw) else { throw PlanError("\(raw) is not a mask type; use patch, block N or crop [N]") }
  let at = rate.map { " at \(gFormat($0 * 100))%" } ?? ""
  switch kind {
  case .patch:
    return ImportedValue(text: "patch" + at)
  case .block:
    guard let size else {
      return ImportedValue(text: "block \(authorsBlockSize)" + at, note: "\(raw) has no block size: \(authorsBlockSize) patches a side, "
                             + "the authors' default (MASK_BLOCK_SIZE \(authorsBlockSize) in their configs/base.yml)")
    }
    return ImportedValue(text: "block \(size)" + at)
  case .crop:
    guard let size else {
      return ImportedValue(text: "crop" + at, note: "\(raw) has no window size: the visible window keeps the unmasked share of the "
                             + "patches, as in the authors' crop ablation (15, 11 and 5 patches a side at 10, 50 and 90% on CelebA-64)")
    }
    return ImportedValue(text: "crop \(size)" + at)
  }
}

/// A sampler: its name and steps. A bare step count is a step count of DDIM (said).
func samplerValue(_ raw: String) -> (name: String, steps: Int?, named: Bool)? {
  var rest = raw.lowercased()
  let name: String?
  // The samplers' own spellings first (Sampler.spellings), then prose: "ancestral" sampling, a "DPM solver".
  if let named = Sampler.spellings.first(where: { rest.contains($0.spelling) }) { name = named.name }
  else if rest.contains("ancestral") { name = "ddpm" } else if rest.contains("dpm") { name = "dpm++2m" } else { name = nil }
  for token in Sampler.spellings.map(\.spelling) + ["dpm solver++", "dpm++ 2m", "(2m)", "2m", "dpm-solver", "dpm solver"] {
    rest = rest.replacingOccurrences(of: token, with: " ")
  }
  let steps = firstInt(rest)
  if let name { return (name, steps, true) }
  // Unnamed: only a number of steps ("50", "50 steps", "250 sampling steps").
  let words = normalisedWords(rest).split(separator: " ")
  guard let steps, words.allSatisfy({ Int($0) != nil || ["steps", "step", "sampling", "denoising", "nfe", "evaluations"].contains($0) })
  else { return nil }
  return ("ddim", steps, false)
}

private func samplerImported(_ raw: String) throws -> ImportedValue {
  guard let s = samplerValue(raw) else {
    throw PlanError("\(raw) is not a sampler; use \(Sampler.names.map { $0 == "ddpm" ? $0 : "\($0) [steps]" }.joined(separator: ", "))")
  }
  let text = s.name == "ddpm" ? "ddpm" : s.steps.map { "\(s.name) \($0)" } ?? s.name
  return ImportedValue(text: text, note: s.named ? nil : "\(raw) names no sampler: DDIM, the sampler the authors evaluate with")
}

/// The datasets the built-in presets name (CelebA, FFHQ, tops, …).
private let presetDatasets: [String] = {
  let plan = "ablations: [{name: x, part: position embedding, action: REMOVE}]"
  let names = ["quick", "paper"].flatMap { (try? StudyPlan(yaml: plan, preset: $0))?.datasets.keys.map { $0 } ?? [] }
  return Array(Set(names)).sorted()
}()

/// A dataset by name; a longer wording that holds exactly one preset dataset's name is that dataset (said).
private func datasetImported(_ raw: String) throws -> ImportedValue {
  if let exact = presetDatasets.first(where: { $0.lowercased() == raw.lowercased() }) { return ImportedValue(text: exact) }
  let w = normalisedWords(raw)
  let named = presetDatasets.filter { contains(w, $0.lowercased()) }
  if named.count == 1 { return ImportedValue(text: named[0], note: "\(raw) read as the dataset \(named[0])") }
  guard isKnownDatasetName(raw) else {
    throw PlanError("\(raw) is not a dataset of the presets (\(presetDatasets.joined(separator: ", "))); "
                      + "add it under the plan's datasets: with its NAME and PATH")
  }
  return ImportedValue(text: raw)
}
