// The parts of MaskDM an ablation can REMOVE or REPLACE, found from the words people write in plans
// ("positional information", "masking rate", "pre-training dataset", …) or given as a configuration
// path (`network.mlp_ratio`), and how each one changes a variant's stages.
import Foundation
import Training

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
  /// What the network predicts: pred_noise (eps), pred_x0 or pred_v, in every stage.
  case objective
  /// How much of the total budget the masked stage gets (the fine-tuning stage takes the rest).
  case pretrainShare
  /// The masked pre-training stage: REMOVE trains DSM for the whole budget.
  case pretraining
  /// The fine-tuning stage: REMOVE trains MDSM for the whole budget.
  case finetuning
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
    ("sampler", "ddim [steps], dpm++2m [steps] or ddpm"),
    ("objective", "the prediction target: pred_noise (eps), pred_x0 (x0) or pred_v (v)"),
    ("pre-training length", "the masked stage's share of the budget: 0.25, 25%, 5000 steps or 20 s"),
    ("masked pre-training", "REMOVE: DSM for the whole budget"),
    ("fine-tuning", "REMOVE: MDSM for the whole budget"),
    ("learning rate, batch size, EMA decay, warm-up, patch size, depth, width, heads, training steps", "by name"),
    ("a configuration key", "e.g. network.mlp_ratio, lr, dataset.hflip_prob"),
  ]

  static var knownList: String { known.map { "\($0.name) (\($0.meaning))" }.joined(separator: "; ") }

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
    case .objective: return "prediction target"
    case .pretrainShare: return "pre-training length"
    case .pretraining: return "masked pre-training"
    case .finetuning: return "fine-tuning"
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

/// The integer in a replacement such as "block 4" or "4".
func trailingInt(_ text: String) -> Int? {
  let digits = text.reversed().prefix { $0.isNumber }
  return digits.isEmpty ? nil : Int(String(digits.reversed()))
}

/// The first whole number in a replacement such as "block 4 at 50%".
func firstInt(_ text: String) -> Int? {
  let digits = text.drop { !$0.isNumber }.prefix { $0.isNumber }
  return digits.isEmpty ? nil : Int(String(digits))
}

/// The first number in a text ("20 s" → 20, "1.5e3" is not read as one).
func firstNumber(_ text: String) -> Double? {
  text.split { !($0.isNumber || $0 == ".") }.lazy.compactMap { Double(String($0)) }.first
}

/// A percentage written in a text ("50%", "at 90 %") as a fraction.
func percentage(in text: String) -> Double? {
  guard let sign = text.firstIndex(of: "%") else { return nil }
  let before = text[..<sign].trimmingCharacters(in: .whitespaces)
  let digits = before.reversed().prefix { $0.isNumber || $0 == "." }
  return Double(String(digits.reversed())).map { $0 / 100 }
}

/// Numbers written in words as digits: "ten percent" → "10%", "half" → "50%", "a quarter" → "25%".
func spelledNumbers(_ text: String) -> String {
  let units = ["one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9]
  let tens = ["ten": 10, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
              "ninety": 90, "hundred": 100]
  var words = text.lowercased().replacingOccurrences(of: "-", with: " ").split(separator: " ").map(String.init)
  var out: [String] = []
  var i = 0
  while i < words.count {
    let w = words[i]
    if let t = tens[w] {
      var n = t
      if i + 1 < words.count, let u = units[words[i + 1]] { n += u; i += 1 }
      out.append(String(n))
    } else if let u = units[w], i + 1 < words.count, ["percent", "%"].contains(words[i + 1]) {
      out.append(String(u))
    } else if w == "half" {
      out.append("50%")
    } else if w == "quarter" {
      out.append("25%")
    } else if w != "a" || !(i + 1 < words.count && words[i + 1] == "quarter") {
      out.append(w)
    }
    i += 1
  }
  words = out
  return words.joined(separator: " ").replacingOccurrences(of: " percent", with: "%").replacingOccurrences(of: " %", with: "%")
}
