// Which part of MaskDM an ablation changes, read from everything the plan says about it: the wording
// of the ablated part, the replacements and the action. Every part is scored against all of that (a
// phrase of the part's own vocabulary counts more than a word, values such as `block 4`, `eps` or
// `25%` count for the parts they can mean, words that mean another part count against), and the best
// is taken only when it clearly leads: when the runner-up is close, the import stops and says how to
// write each. Nothing is taken by the first keyword that happens to match.
import Foundation
import MaskDM
import Training

/// The evidence for one candidate part.
public struct PartScore: Equatable {
  public var part: PlanPart
  public var score: Double
  /// What counted, for `--explain` ("phrase \"mask rate\" +4", "values 3/3 percentages +2").
  public var reasons: [String]
}

/// The outcome of reading one ablation's part.
public struct PartRecognition: Equatable {
  public var part: PlanPart
  /// Every candidate with a positive score, best first.
  public var ranking: [PartScore]
  public var runnerUp: PartScore? { ranking.count > 1 ? ranking[1] : nil }
}

/// The vocabulary of one part.
struct PartRule {
  var part: PlanPart
  /// Phrases of the part's own name: each found adds its weight.
  var phrases: [(String, Double)]
  /// Phrases that mean another part: each found subtracts its weight.
  var against: [(String, Double)] = []
  /// What the replacements say: the share (0...1) of replacements that are values of this part.
  var values: ((String) -> Bool)? = nil
  var valueWeight = 3.0
  /// The action this part needs (REMOVE-only parts), with the weight it adds when it matches.
  var action: AblationAction? = nil
}

extension PlanPart {
  /// Reads the part of an ablation; `replacements` and `action` weigh in. An ambiguous or unknown
  /// part is an error naming the candidates and how to write them.
  public static func recognize(_ text: String, replacements: [String] = [], action: AblationAction = .replace) throws -> PartRecognition {
    let trimmed = text.trimmingSpaces()
    let words = normalisedWords(trimmed)
    // A part written by its own name (what an imported plan writes) is that part.
    if let named = namedParts.first(where: { $0.words == words }) {
      return PartRecognition(part: named.part, ranking: [PartScore(part: named.part, score: 10, reasons: ["its own name"])])
    }
    if !trimmed.contains(" "), configKeys.contains(trimmed) {
      return PartRecognition(part: .config(trimmed), ranking: [PartScore(part: .config(trimmed), score: 10, reasons: ["a configuration key"])])
    }
    let values = replacements.map { normalisedWords($0) }
    let split = words.split(separator: " ")
    var ranking: [PartScore] = []
    for rule in partRules {
      var score = 0.0
      var reasons: [String] = []
      for (phrase, w) in rule.phrases where contains(split, phrase) {
        score += w
        reasons.append("\"\(phrase)\" +\(format(w))")
      }
      for (phrase, w) in rule.against where contains(split, phrase) {
        score -= w
        reasons.append("\"\(phrase)\" −\(format(w))")
      }
      if let matches = rule.values, !values.isEmpty {
        let n = values.filter(matches).count
        if n > 0 {
          let w = rule.valueWeight * Double(n) / Double(values.count)
          score += w
          reasons.append("\(n)/\(values.count) replacements are its values +\(format(w))")
        }
      }
      if let needed = rule.action {
        if needed == action { score += 2; reasons.append("action \(action.rawValue) +2") } else { score -= 4 }
      }
      if score > 0 { ranking.append(PartScore(part: rule.part, score: score, reasons: reasons)) }
    }
    ranking.sort { $0.score > $1.score }
    guard let best = ranking.first, best.score >= 3 else {
      if !trimmed.contains(" "), trimmed.contains(".") || trimmed.contains("_") {
        let hint = closestKey(to: trimmed, among: Array(configKeys)).map { "; did you mean \($0)?" } ?? ""
        throw PlanError("unknown configuration key \(trimmed) as an ablated part\(hint)")
      }
      throw PlanError("unknown ablated part \"\(text)\"; known parts: \(knownList)")
    }
    if let second = ranking.dropFirst().first, second.score >= 3, second.score >= 0.8 * best.score, second.part != best.part {
      throw PlanError("ablated part \"\(text)\" could be the \(best.part.label) (score \(format(best.score))) or the "
                        + "\(second.part.label) (score \(format(second.score))); write the part as \"\(best.part.canonicalName)\" "
                        + "or as \"\(second.part.canonicalName)\"")
    }
    return PartRecognition(part: best.part, ranking: ranking)
  }

  /// Recognises a part from its wording alone.
  public static func parse(_ text: String) throws -> PlanPart { try recognize(text).part }
}

/// The parts by the names imported plans write (`canonicalName`) and the report shows (`label`).
/// `words` is the name's `normalisedWords`, worked out once (recognising a part compares it with each).
let namedParts: [(name: String, words: String, part: PlanPart)] = {
  let parts: [PlanPart] = [.positionEmbedding, .schedule, .maskRate, .maskType, .blockSize, .cropSize, .pretrainDataset,
                           .finetuneFraction, .noiseSchedule, .sampler, .objective, .pretrainShare, .pretraining, .finetuning]
  return parts.flatMap { part in [part.canonicalName, part.label].map { (name: $0, words: normalisedWords($0), part: part) } }
}()

/// Lower-case words with hyphens, slashes and punctuation as spaces, "pretrain…"/"finetun…" split and
/// common abbreviations spelled out, padded with spaces so that phrases match whole words.
func normalisedWords(_ text: String) -> String {
  var t = text.lowercased()
  // The standard library's `replacing`, not Foundation's `replacingOccurrences` (which bridges to
  // NSString and was most of the time of `maskdm study import` on long plans).
  for (from, to) in [("pre-train", "pre train"), ("pretrain", "pre train"), ("fine-tun", "fine tun"), ("finetun", "fine tun"),
                     ("warm-up", "warmup"), ("warm up", "warmup"), ("x_0", "x0"), ("x₀", "x0")] where t.contains(from) {
    t = t.replacing(from, with: to)
  }
  let abbreviations = ["lr": "learning rate", "bs": "batch size", "pe": "position embedding", "dim": "dimension",
                       "ft": "fine tuning", "pt": "pre training"]
  let kept = String(t.map { $0.isLetter || $0.isNumber || $0 == "%" || $0 == "." ? $0 : " " })
  let words = kept.split(separator: " ").map { w -> String in
    var word = w  // without the dots of sentence ends (not decimals)
    while word.first == "." { word.removeFirst() }
    while word.last == "." { word.removeLast() }
    return abbreviations[String(word)] ?? String(word)
  }.filter { !$0.isEmpty }
  return " " + words.joined(separator: " ") + " "
}

extension StringProtocol {
  /// The text without the white space around it: Foundation's `trimmingCharacters(in: .whitespaces)`
  /// bridges to NSString, which was a sixth of the time of importing a long markdown plan.
  func trimmingSpaces() -> String {
    guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
    return String(self[first...last])
  }
}

/// True when `words` holds `phrase` as consecutive whole words; a phrase word ending in "*" matches
/// any word it begins ("pre train* data*" matches "pre training datasets").
func contains(_ words: String, _ phrase: String) -> Bool { contains(words.split(separator: " "), phrase) }

/// `contains` on words already split (a part's text is matched against every rule's phrases).
func contains(_ text: [Substring], _ phrase: String) -> Bool {
  let wanted = phrase.split(separator: " ")
  guard !wanted.isEmpty, text.count >= wanted.count else { return false }
  func matches(_ word: Substring, _ pattern: Substring) -> Bool {
    pattern.hasSuffix("*") ? word.hasPrefix(pattern.dropLast()) : word == pattern
  }
  return (0...(text.count - wanted.count)).contains { start in
    wanted.indices.allSatisfy { matches(text[start + $0], wanted[$0]) }
  }
}

private func format(_ v: Double) -> String { String(format: "%g", (v * 10).rounded() / 10) }

/// A value of a duration share or a rate: 25%, 0.25, 1/4.
private func isFraction(_ w: String) -> Bool {
  let t = w.trimmingSpaces()
  if t.hasSuffix("%"), Double(t.dropLast().trimmingSpaces()) != nil { return true }
  if let d = Double(t), d > 0, d < 1 { return true }
  return false
}

/// A value naming a prediction target.
func objectiveValue(_ text: String) -> Objective? {
  let w = normalisedWords(text)
  if contains(w, "eps") || contains(w, "epsilon") || contains(w, "noise") || contains(w, "pred noise") || contains(w, "ε") { return .eps }
  if contains(w, "x0") || contains(w, "pred x0") || contains(w, "clean image*") || contains(w, "start") { return .x0 }
  if contains(w, "v") || contains(w, "velocity") || contains(w, "pred v") || contains(w, "v prediction") { return .v }
  return nil
}

/// Every part's vocabulary. Weights: 4-5 for the part's own name, 2-3 for a telling word, 1 for a hint.
let partRules: [PartRule] = [
  PartRule(part: .positionEmbedding,
           phrases: [("position*", 4), ("pos embed*", 4), ("embedding", 1), ("information h", 2), ("h", 1)],
           against: [("crop*", 3), ("window", 3)]),
  PartRule(part: .schedule,
           phrases: [("two stage", 4), ("single stage", 4), ("one stage", 4), ("training framework", 3),
                     ("training schedule", 3), ("schedule", 1), ("stage*", 1), ("mdsm", 1), ("dsm", 1)],
           against: [("noise schedule", 5), ("beta schedule", 5), ("variance schedule", 5), ("length", 3), ("duration", 3),
                     ("share", 3), ("position*", 4)],
           values: { w in ["mdsm", "dsm", "single stage", "two stage", "one stage", "ddpm", "scratch", "unmasked", "masked"].contains { contains(w, $0) } }),
  PartRule(part: .pretraining, phrases: [("masked pre train*", 2), ("pre train*", 1), ("mdsm", 1)],
           against: [("data*", 4), ("length", 3), ("duration", 3), ("position*", 4), ("mask rate", 4), ("mask type", 4)],
           action: .remove),
  PartRule(part: .finetuning, phrases: [("fine tun*", 2), ("denoising fine tun*", 1), ("dsm", 1)],
           against: [("data*", 4), ("two stage", 4), ("position*", 4)], action: .remove),
  PartRule(part: .pretrainShare,
           phrases: [("length", 3), ("duration", 3), ("share", 3), ("proportion", 2), ("how long", 3), ("budget", 2),
                     ("split", 2), ("pre train*", 1), ("steps", 1), ("time", 1), ("allocation", 2)],
           against: [("mask rate", 4), ("mask ratio", 4), ("masking rate", 4), ("masking ratio", 4), ("data*", 3)],
           values: { w in isFraction(w.trimmingSpaces()) || contains(w, "steps") || contains(w, "s")
             || contains(w, "seconds") || contains(w, "of the budget") }, valueWeight: 2),
  PartRule(part: .maskRate,
           phrases: [("mask rate", 5), ("mask ratio", 5), ("masking rate", 5), ("masking ratio", 5), ("masked fraction", 4),
                     ("rate", 1), ("ratio", 1), ("mask*", 1), ("how many patches", 3), ("percentage of masked", 4)],
           against: [("mask type", 4), ("masking strategy", 4), ("learning rate", 5), ("length", 3), ("duration", 3),
                     ("mlp ratio", 5), ("block size", 4)],
           values: { w in isFraction(w.trimmingSpaces()) }, valueWeight: 1),
  PartRule(part: .maskType,
           phrases: [("mask type", 5), ("masking type", 5), ("type of mask*", 5), ("masking strategy", 5), ("mask strategy", 5),
                     ("masking scheme", 5), ("mask shape", 4), ("mask kind", 5), ("mask configuration", 3), ("strategy", 1),
                     ("mask*", 1)],
           against: [("block size", 4), ("crop size", 4), ("window size", 4)],
           values: { w in contains(w, "patch*") || contains(w, "block*") || contains(w, "crop*") }),
  PartRule(part: .blockSize, phrases: [("block size", 5), ("size of the block*", 5), ("block side", 4)]),
  PartRule(part: .cropSize, phrases: [("crop size", 5), ("window size", 5), ("crop window", 4)]),
  PartRule(part: .pretrainDataset,
           phrases: [("pre train* data*", 5), ("source data*", 4), ("pre training set", 5), ("data*", 1), ("pre train*", 1)],
           against: [("fine tun* data*", 4), ("limited", 3), ("fraction", 3)],
           values: { w in ["celeba", "ffhq", "afhq", "vggface", "imagenet", "tops", "footwear", "lsun"].contains { contains(w, $0) } }),
  PartRule(part: .finetuneFraction,
           phrases: [("limited data", 5), ("data fraction", 5), ("fraction", 2), ("data size", 4), ("amount of data", 4),
                     ("fine tun* data*", 4), ("training set size", 4), ("subset", 3), ("data*", 1)],
           against: [("pre train* data*", 4), ("mask*", 2)],
           values: { w in isFraction(w.trimmingSpaces()) }, valueWeight: 1),
  PartRule(part: .noiseSchedule,
           phrases: [("noise schedule", 5), ("beta schedule", 5), ("variance schedule", 5), ("noise*", 1)],
           values: { w in contains(w, "linear") || contains(w, "cosine") }),
  PartRule(part: .sampler, phrases: [("sampler", 5), ("sampling method", 5), ("sampling", 2), ("solver", 3)],
           values: { w in contains(w, "ddim") || contains(w, "ddpm") }),
  PartRule(part: .objective,
           phrases: [("prediction target", 5), ("parameterization", 5), ("parametrization", 5), ("predict*", 2),
                     ("objective", 1), ("target", 2), ("output", 1)],
           against: [("mdsm", 3), ("two stage", 4), ("single stage", 4)],
           values: { objectiveValue($0) != nil }),
] + knobRules

/// The usual optimisation and model knobs, by name as well as by configuration key.
let knobRules: [PartRule] = [
  ("lr", [("learning rate", 5), ("step size", 2)]),
  ("batch_size", [("batch size", 5), ("batch", 2)]),
  ("ema_decay", [("ema", 4), ("exponential moving average", 5), ("ema decay", 1)]),
  ("warmup_steps", [("warmup", 5)]),
  ("network.patch_size", [("patch size", 5), ("patch side", 4)]),
  ("network.encoder_depth", [("depth", 5), ("number of layers", 5), ("layers", 3), ("blocks", 2)]),
  ("network.encoder_embed_dim", [("width", 5), ("embedding dimension", 5), ("hidden size", 5), ("embed dim", 5),
                                 ("hidden dimension", 5), ("model dimension", 5)]),
  ("network.encoder_heads", [("attention heads", 5), ("heads", 4)]),
  ("network.mlp_ratio", [("mlp ratio", 5)]),
  ("weight_decay", [("weight decay", 5)]),
  ("clip_grad", [("gradient clipping", 5), ("clip*", 3)]),
  ("train_steps", [("training steps", 4), ("number of steps", 4), ("iterations", 3)]),
].map { key, phrases in
  PartRule(part: .config(key), phrases: phrases,
           against: ["train_steps": [("pre train*", 3), ("share", 3), ("length", 2)], "network.patch_size": [("mask*", 3)],
                     "lr": [("warmup", 4)]][key] ?? [])
}
