// The parts of MaskDM an ablation can REMOVE or REPLACE, found from the words people write in plans
// ("positional information", "masking rate", "pre-training dataset", …) or given as a configuration
// path (`network.mlp_ratio`), and how each one changes a variant's stages.
import Foundation
import Training
import Yams

/// An ablatable part.
public enum PlanPart: Equatable {
  /// The position embedding added before masking (the paper's H), in the masked stages.
  case positionEmbedding
  /// Two-stage training vs one stage of MDSM or of DSM for the whole budget.
  case schedule
  /// The mask ratio of the masked stages.
  case maskRate
  /// The masking strategy of the masked stages: patch, block N, crop [N].
  case maskType
  case blockSize
  case cropSize
  /// The data of the masked stages (the fine-tuning stages move to the plan's `datasets.target`).
  case pretrainDataset
  /// The share of the fine-tuning data used (limited-data study).
  case finetuneFraction
  /// The noise (beta) schedule of every stage.
  case noiseSchedule
  /// The sampler of the evaluation.
  case sampler
  /// Any configuration key, set in every stage.
  case config(String)

  /// The names a plan may use, with what they mean (listed when a part is not recognised).
  public static let known: [(name: String, meaning: String)] = [
    ("position embedding", "the position embedding H added before masking (REMOVE)"),
    ("schedule", "two-stage vs single-stage: two_stage, mdsm_only, dsm_only"),
    ("mask rate", "the pre-training mask ratio, e.g. 0.1 … 0.9"),
    ("mask type", "patch, block N, crop [N]"),
    ("block size", "block masking with N x N-patch blocks"),
    ("crop size", "crop masking with an N x N-patch visible window"),
    ("pre-training dataset", "a name under the plan's datasets: (or a mapping of dataset keys)"),
    ("fine-tuning data fraction", "share of the fine-tuning data: 1.0, 0.1, 0.01 (or 10%)"),
    ("noise schedule", "linear or cosine"),
    ("sampler", "ddim [steps] or ddpm"),
    ("a configuration key", "e.g. network.mlp_ratio, lr, dataset.hflip_prob"),
  ]

  static var knownList: String { known.map { "\($0.name) (\($0.meaning))" }.joined(separator: "; ") }

  /// Recognises a part from a plan's wording.
  public static func parse(_ text: String) throws -> PlanPart {
    let t = text.lowercased()
    func has(_ phrases: String...) -> Bool { phrases.contains { t.contains($0) } }
    let words = Set(t.split { !$0.isLetter }.map(String.init))
    func word(_ candidates: String...) -> Bool { candidates.contains { words.contains($0) } }
    if !t.contains(" "), configKeys.contains(text) { return .config(text) }
    if has("position") { return .positionEmbedding }
    if t == "schedule" || has("stage", "training framework", "training schedule", "objective") { return .schedule }
    if has("block size") { return .blockSize }
    if has("crop size", "window size") { return .cropSize }
    if has("mask") && word("rate", "ratio") { return .maskRate }
    if has("mask") && word("type", "strategy", "kind", "configuration") { return .maskType }
    if has("pre-train", "pretrain") && has("data") { return .pretrainDataset }
    if has("limited data", "data size", "data fraction", "fraction") || (has("fine-tun", "finetun") && has("data")) {
      return .finetuneFraction
    }
    if has("noise schedule", "beta schedule") { return .noiseSchedule }
    if has("sampler", "sampling") { return .sampler }
    if !t.contains(" "), t.contains(".") || t.contains("_") {
      let hint = closestKey(to: text, among: Array(configKeys)).map { "; did you mean \($0)?" } ?? ""
      throw PlanError("unknown configuration key \(text) as an ablated part\(hint)")
    }
    throw PlanError("unknown ablated part \"\(text)\"; known parts: \(knownList)")
  }

  /// Every dotted key of the configuration (`lr`, `dataset.MASK_RATIO`, `network.mlp_ratio`, …).
  static let configKeys = Set(ConfigEdit.keys)

  /// A short label for the report ("position embedding", "mask rate", …).
  public var label: String {
    switch self {
    case .positionEmbedding: return "position embedding"
    case .schedule: return "training schedule"
    case .maskRate: return "mask rate"
    case .maskType: return "mask type"
    case .blockSize: return "block size"
    case .cropSize: return "crop size"
    case .pretrainDataset: return "pre-training dataset"
    case .finetuneFraction: return "fine-tuning data fraction"
    case .noiseSchedule: return "noise schedule"
    case .sampler: return "sampler"
    case let .config(key): return key
    }
  }
}

/// The single-stage replacements of the schedule part.
public enum ScheduleChoice: String, CaseIterable {
  case twoStage = "two_stage"
  case mdsmOnly = "mdsm_only"
  case dsmOnly = "dsm_only"

  /// Reads a replacement as written in a plan ("Single-stage training using the MDSM objective …").
  static func parse(_ text: String) throws -> ScheduleChoice {
    let t = text.lowercased()
    if let exact = ScheduleChoice(rawValue: t) { return exact }
    if t.contains("two-stage") || t.contains("two stage") { return .twoStage }
    if t.contains("mdsm") || (t.contains("mask") && !t.contains("unmask")) { return .mdsmOnly }
    if t.contains("dsm") || t.contains("ddpm") || t.contains("scratch") || t.contains("unmask") { return .dsmOnly }
    throw PlanError("unknown schedule replacement \"\(text)\"; use two_stage, mdsm_only or dsm_only")
  }

  var label: String {
    switch self {
    case .twoStage: return "two-stage"
    case .mdsmOnly: return "MDSM only"
    case .dsmOnly: return "DSM only"
    }
  }
}

/// A number written as 0.1 or 10%.
func fraction(_ node: Node, what: String) throws -> Double {
  let text = node.text.trimmingCharacters(in: .whitespaces)
  if text.hasSuffix("%"), let v = Double(text.dropLast().trimmingCharacters(in: .whitespaces)) { return v / 100 }
  if let v = Double(text) { return v }
  throw PlanError("\(what) replacement \(text) is not a number (write 0.1 or 10%)")
}

/// The integer in a replacement such as "block 4" or "4".
func trailingInt(_ text: String) -> Int? {
  let digits = text.reversed().prefix { $0.isNumber }
  return digits.isEmpty ? nil : Int(String(digits.reversed()))
}
