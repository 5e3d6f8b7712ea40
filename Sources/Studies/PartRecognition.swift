// Which part of MaskDM an ablation changes, read from everything the plan says about it: the wording
// of the ablated part, the replacements and the action. Precision before recall: a part is chosen
// only on evidence specific to it (a concept it is about, values only it takes, its stage named with
// a word of its own, a quantity named by its unit, PartVocabulary.swift), never on a generic word
// ("length", "number", "size", "rate") alone; and only when it clearly leads. Otherwise the reading
// is refused, naming the best candidates and how to write each: a refusal is honest, a guess is not.
import Foundation
import MaskDM
import Training

/// The evidence for one candidate part.
public struct PartScore: Equatable {
  public var part: PlanPart
  public var score: Double
  /// What counted, for `--explain` ("concept \"mask rate\" +6", "3/3 replacements are its values +3").
  public var reasons: [String]
  /// True when some of the evidence is specific to the part (not generic words alone).
  public var isSpecific = false
  /// True when the wording itself speaks for the part (not only values that fit it).
  var fromWords = false
}

/// The outcome of reading one ablation's part.
public struct PartRecognition: Equatable {
  public var part: PlanPart
  /// Every candidate with a positive score, the chosen part first.
  public var ranking: [PartScore]
  public var runnerUp: PartScore? { ranking.count > 1 ? ranking[1] : nil }
}

/// A part that was not read: why, and the best candidates (none when nothing fits at all).
public struct PartRefusal: Error, Equatable {
  public var message: String
  public var candidates: [PartScore]
}

extension PlanPart {
  /// The least score a part is chosen on, and how close (as a share of its score) a second part
  /// may come before the reading is ambiguous.
  static let leastScore = 3.0, closeShare = 0.8

  /// Reads the part of an ablation; `replacements` and `action` weigh in. An ambiguous, generic or
  /// unknown part is an error naming the candidates and how to write them.
  public static func recognize(_ text: String, replacements: [String] = [], action: AblationAction = .replace) throws -> PartRecognition {
    switch weigh(text, replacements: replacements, action: action) {
    case let .success(recognition): return recognition
    case let .failure(refusal): throw PlanError(refusal.message)
    }
  }

  /// Every part weighed against the wording, the replacements and the action; the best is taken
  /// only on specific evidence and a clear lead.
  public static func weigh(_ text: String, replacements: [String] = [], action: AblationAction = .replace)
    -> Result<PartRecognition, PartRefusal> {
    let trimmed = text.trimmingSpaces()
    if let named = named(trimmed) { return .success(named) }
    let wording = Wording(trimmed)
    var ranking = partVocabularies.compactMap { wording.weigh($0, replacements: replacements, action: action) }
    // A configuration key written inside the wording ("the network.mlp_ratio") names that key; a key
    // that is also an English word ("objective", "seed") is left to the vocabulary.
    let punctuation = CharacterSet(charactersIn: "`'\"(),;:.")
    let tokens = Set(trimmed.split(whereSeparator: \.isWhitespace).map { $0.trimmingCharacters(in: punctuation) })
    for key in tokens where configKeys.contains(key) && (key.contains(".") || key.contains("_")) {
      let reason = "names the configuration key +6"
      if let i = ranking.firstIndex(where: { $0.part == .config(key) }) {
        (ranking[i].score, ranking[i].isSpecific) = (ranking[i].score + 6, true)
        ranking[i].reasons.append(reason)
      } else {
        ranking.append(PartScore(part: .config(key), score: 6, reasons: [reason], isSpecific: true, fromWords: true))
      }
    }
    return decide(text, ranking.sorted { $0.score > $1.score })
  }

  /// A part written by a name of its own: a part's name or label (what an imported plan writes), a
  /// knob's short name, a configuration key.
  private static func named(_ trimmed: String) -> PartRecognition? {
    let words = normalisedWords(trimmed)
    let part = namedParts.first { $0.words == words }?.part
      ?? knobNames.first { normalisedWords($0.name) == words }.map { .config($0.key) }
      ?? (!trimmed.contains(" ") && configKeys.contains(trimmed) ? .config(trimmed) : nil)
    return part.map { PartRecognition(part: $0, ranking: [PartScore(part: $0, score: 10, reasons: ["its own name"], isSpecific: true)]) }
  }

  private static func decide(_ text: String, _ ranking: [PartScore]) -> Result<PartRecognition, PartRefusal> {
    let trimmed = text.trimmingSpaces()
    guard let best = ranking.first(where: \.isSpecific), best.score >= leastScore else {
      if !trimmed.contains(" "), trimmed.contains(".") || trimmed.contains("_") {
        let hint = closestKey(to: trimmed, among: Array(configKeys)).map { "; did you mean \($0)?" } ?? ""
        return .failure(PartRefusal(message: "unknown configuration key \(trimmed) as an ablated part\(hint)", candidates: []))
      }
      guard ranking.contains(where: { $0.fromWords || $0.isSpecific }) else {
        return .failure(PartRefusal(message: "unknown ablated part \"\(text)\"; known parts: \(knownList)", candidates: []))
      }
      let candidates = Array(ranking.filter { $0.fromWords || $0.isSpecific }.prefix(2))
      return .failure(PartRefusal(
        message: "ablated part \"\(text)\" names no part clearly: it could be \(candidates.map(described).joined(separator: " or ")), "
          + "but nothing in it is specific to \(candidates.count == 1 ? "it" : "either"); write the part as "
          + candidates.map { "\"\($0.part.canonicalName)\"" }.joined(separator: " or ") + " if that is what it means",
        candidates: candidates))
    }
    if let second = ranking.first(where: { $0.part != best.part }), second.score >= closeShare * best.score {
      return .failure(PartRefusal(
        message: "ablated part \"\(text)\" could be \(described(best)) or \(described(second)); write the part as "
          + "\"\(best.part.canonicalName)\" or as \"\(second.part.canonicalName)\"",
        candidates: [best, second]))
    }
    return .success(PartRecognition(part: best.part, ranking: [best] + ranking.filter { $0.part != best.part }))
  }

  /// "the mask rate (score 7: concept \"mask rate\" +6, …)".
  private static func described(_ s: PartScore) -> String {
    "the \(s.part.label) (score \(oneDecimal(s.score)): \(s.reasons.joined(separator: ", ")))"
  }
}

/// A description split into normalised words, with its head: what it is about, in the first clause
/// that does not begin with a qualifier, up to its first qualifier word ("mask rate" in "mask rate of
/// the first stage" and in "during the first phase, the mask rate").
final class Wording {
  let words: [Substring]
  /// The positions of the head's words.
  let head: Range<Int>
  /// Where concepts of any part are: generic words there belong to the concept ("size" in "batch size").
  private(set) var covered = Set<Int>()
  /// Where the adjectives of stage words are: "masked" in "masked pre-training" names a stage, not a
  /// masking ("data" in "target data" stays a word about data).
  private(set) var roleWords = Set<Int>()
  /// The quantities named per unit, and the stages named (anywhere, outside concepts, in the head).
  private(set) var perUnit: [(part: PlanPart, words: String, range: Range<Int>)] = []
  private(set) var named = Set<StageRole>(), namedFree = Set<StageRole>(), namedInHead = Set<StageRole>()
  /// True when the head holds a concept of some part (then it does not name a stage as the part).
  private(set) var conceptInHead = false

  init(_ text: String) {
    words = normalisedWords(text).split(separator: " ")
    var start = 0
    var head = 0..<0
    for clause in text.split(omittingEmptySubsequences: false, whereSeparator: { "(),;:[]".contains($0) }) {
      let clauseWords = normalisedWords(String(clause)).split(separator: " ")
      if head.isEmpty, let first = clauseWords.first, !WordGroup.qualifierMarkers.contains(first) || WordGroup.meta.contains(first) {
        let begin = clauseWords.firstIndex { !WordGroup.meta.contains($0) } ?? clauseWords.count
        let end = clauseWords[begin...].firstIndex { WordGroup.qualifierMarkers.contains($0) } ?? clauseWords.count
        head = min(start + begin, words.count)..<min(start + end, words.count)
      }
      start += clauseWords.count
    }
    self.head = head
    for vocabulary in partVocabularies {
      for (phrase, _) in vocabulary.concepts { for r in ranges(of: phrase) { covered.formUnion(r) } }
    }
    perUnit = perUnitParts()
    for named in perUnit { covered.formUnion(named.range) }
    (named, namedFree, namedInHead) = (stages(), stages(free: true), stages(inHead: true))
    conceptInHead = partVocabularies.contains { v in v.concepts.contains { ranges(of: $0.0).contains { head.contains($0.lowerBound) } } }
    let nouns = ["data*", "set", "images", "stage", "phase", "domain", "task", "distribution"]
    for role in StageRole.allCases {
      for phrase in role.phrases {
        for r in ranges(of: phrase) { roleWords.formUnion(r.filter { i in !nouns.contains { phraseRanges([words[i]], $0).count == 1 } }) }
      }
    }
  }

  /// Where each phrase looked up occurs (every part's weighing looks up the same phrases).
  private var memo: [String: [Range<Int>]] = [:]

  /// Where `phrase` occurs as consecutive whole words ("*" ends a word prefix).
  func ranges(of phrase: String) -> [Range<Int>] {
    if let known = memo[phrase] { return known }
    let found = phraseRanges(words, phrase)
    memo[phrase] = found
    return found
  }

  /// Places of `phrase` outside every concept and stage word.
  func freeRanges(of phrase: String) -> [Range<Int>] {
    ranges(of: phrase).filter { covered.isDisjoint(with: $0) && roleWords.isDisjoint(with: $0) }
  }

  /// Places of `phrase` outside the stage words.
  func rangesOutsideStages(of phrase: String) -> [Range<Int>] { ranges(of: phrase).filter { roleWords.isDisjoint(with: $0) } }

  /// The stages named: anywhere, outside concepts, in the head.
  private func stages(free: Bool = false, inHead: Bool = false) -> Set<StageRole> {
    Set(StageRole.allCases.filter { role in
      role.phrases.contains { phrase in
        ranges(of: phrase).contains { (!free || covered.isDisjoint(with: $0)) && (!inHead || head.contains($0.lowerBound)) }
      }
    })
  }

  /// The parts named as a quantity per unit ("images per step"), with the words and where they are.
  private func perUnitParts() -> [(part: PlanPart, words: String, range: Range<Int>)] {
    let articles: Set<Substring> = ["a", "an", "the", "each", "every", "one", "single"]
    var out: [(PlanPart, String, Range<Int>)] = []
    for i in words.indices where words[i] == "per" && i > 0 {
      let after = words.indices.filter { $0 > i && !articles.contains(words[$0]) }
      let unit = after.map { words[$0] }
      for rule in perUnitRules where rule.quantities.contains(where: { phraseRanges([words[i - 1]], $0).count == 1 }) {
        if let phrase = rule.units.first(where: { phraseRanges(unit, $0).contains { $0.lowerBound == 0 } }) {
          let end = after[phrase.split(separator: " ").count - 1] + 1
          out.append((rule.part, "\(words[i - 1]) per \(phrase.replacingOccurrences(of: "*", with: ""))", (i - 1)..<end))
        }
      }
    }
    return out
  }

  /// The evidence for one part; nil when the part does not apply (its action is the other one) or
  /// nothing speaks for it.
  func weigh(_ v: PartVocabulary, replacements: [String], action: AblationAction) -> PartScore? {
    if let needed = v.action, needed != action { return nil }
    var e = EvidenceTally()
    var counted: [Range<Int>] = []
    for (phrase, w) in v.concepts {
      for r in ranges(of: phrase) where !counted.contains(where: { $0.overlaps(r) }) {
        counted.append(r)
        let inHead = head.contains(r.lowerBound)
        e.add(w + (inHead ? 1 : 0), "concept \"\(phrase)\"\(inHead ? " (what it is about)" : "")", specific: true)
        break
      }
    }
    for (phrase, w) in v.hints where !freeRanges(of: phrase).isEmpty { e.add(w, "generic \"\(phrase)\"") }
    for (phrase, w) in v.against where !rangesOutsideStages(of: phrase).isEmpty { e.add(-w, "\"\(phrase)\" means another part") }
    weighCompanions(v, &e)
    weighStage(v, &e)
    for (part, words, _) in perUnit where part == v.part { e.add(5, "\"\(words)\" (a quantity per unit)", specific: true) }
    e.weighValues(v, replacements)
    if v.action != nil { e.add(2, "action \(action.rawValue)", fromWords: false) }
    return e.score > 0 ? PartScore(part: v.part, score: e.score, reasons: e.reasons, isSpecific: e.specific, fromWords: e.fromWords) : nil
  }

  /// Generic words that name the part together, outside any concept (and next to its stage where needed).
  private func weighCompanions(_ v: PartVocabulary, _ e: inout EvidenceTally) {
    guard !v.companions.isEmpty else { return }
    var used = Set<Int>()
    var found: [String] = []
    for group in v.companions {
      guard let (phrase, r) = group.lazy.compactMap({ p in self.freeRanges(of: p).first { used.isDisjoint(with: $0) }.map { (p, $0) } }).first
      else { return }
      used.formUnion(r)
      found.append("\"\(phrase.replacingOccurrences(of: "*", with: ""))\"")
    }
    if v.companionsNeedStage {
      guard let stage = v.stage, namedFree.contains(stage) else { return }
      found.append("the \(stage == .first ? "first" : "second") stage")
    }
    e.add(4, found.joined(separator: " with "), specific: true)
  }

  /// A part of one stage gains when its stage is named and loses when only the other one is; a
  /// stage part (REMOVE the pre-training) is named by its stage in the description's head.
  private func weighStage(_ v: PartVocabulary, _ e: inout EvidenceTally) {
    guard let stage = v.stage else { return }
    if !named.isEmpty, !named.contains(stage) {
      e.add(-5, "points at \(named.first!.rawValue)")
    } else if named.contains(stage), !v.isStage {
      e.add(1, "\(stage.rawValue) named")
    }
    guard v.isStage, namedInHead == [stage] else { return }
    if !conceptInHead { e.add(3, "names \(stage.rawValue)", specific: true) }
  }
}

/// The running score of one part.
struct EvidenceTally {
  var score = 0.0
  var reasons: [String] = []
  var specific = false
  /// True when the wording speaks for the part (not only its values or the action).
  var fromWords = false

  mutating func add(_ weight: Double, _ why: String, specific isSpecific: Bool = false, fromWords words: Bool = true) {
    score += weight
    reasons.append("\(why) \(weight < 0 ? "−" : "+")\(oneDecimal(abs(weight)))")
    if isSpecific { specific = true }
    if words, weight > 0 { fromWords = true }
  }

  /// Replacements only this part takes are specific evidence; replacements it can take support it;
  /// replacements it cannot take count against it.
  mutating func weighValues(_ v: PartVocabulary, _ replacements: [String]) {
    guard !replacements.isEmpty else { return }
    let n = Double(replacements.count)
    let own = Double(replacements.filter { v.specificValue?($0) ?? false }.count)
    let fitting = Double(replacements.filter { (try? v.part.importedValue($0)) != nil }.count)
    if own * 2 >= n, own > 0 {
      add(3 * own / n, "\(Int(own))/\(Int(n)) replacements are its values", specific: true, fromWords: false)
    } else if fitting > 0 {
      add(fitting / n, "\(Int(fitting))/\(Int(n)) replacements fit it", fromWords: false)
    }
    if fitting < n { add(-3 * (n - fitting) / n, "\(Int(n - fitting))/\(Int(n)) replacements are not its values") }
  }
}

/// The parts by the names imported plans write (`canonicalName`) and the report shows (`label`).
/// `words` is the name's `normalisedWords`, worked out once (recognising a part compares it with each).
let namedParts: [(name: String, words: String, part: PlanPart)] = {
  let parts: [PlanPart] = [.positionEmbedding, .schedule, .maskRate, .maskType, .blockSize, .cropSize, .pretrainDataset,
                           .finetuneFraction, .noiseSchedule, .sampler, .objective, .pretrainShare, .pretraining, .finetuning]
  return parts.flatMap { part in [part.canonicalName, part.label].map { (name: $0, words: normalisedWords($0), part: part) } }
}()

/// Lower-case words with hyphens, slashes and punctuation as spaces, "pre-train…"/"fine-tun…" as one
/// word and common abbreviations spelled out, padded with spaces so that phrases match whole words.
func normalisedWords(_ text: String) -> String {
  var t = text.lowercased()
  // The standard library's `replacing`, not Foundation's `replacingOccurrences` (which bridges to
  // NSString and was most of the time of `maskdm study import` on long plans).
  for (from, to) in [("pre-train", "pretrain"), ("pre train", "pretrain"), ("fine-tun", "finetun"), ("fine tun", "finetun"),
                     ("warm-up", "warmup"), ("warm up", "warmup"), ("x_0", "x0"), ("x₀", "x0")] where t.contains(from) {
    t = t.replacing(from, with: to)
  }
  let abbreviations = ["lr": "learning rate", "bs": "batch size", "pe": "position embedding", "dim": "dimension",
                       "ft": "finetuning", "pt": "pretraining", "dims": "dimensions"]
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
/// any word it begins ("pretrain* data*" matches "pretraining datasets").
func contains(_ words: String, _ phrase: String) -> Bool { !phraseRanges(words.split(separator: " "), phrase).isEmpty }

/// Where `phrase` occurs in `text` as consecutive whole words.
func phraseRanges(_ text: [Substring], _ phrase: String) -> [Range<Int>] {
  let wanted = phrase.split(separator: " ")
  guard !wanted.isEmpty, text.count >= wanted.count else { return [] }
  var found: [Range<Int>] = []
  for start in 0...(text.count - wanted.count) {
    var all = true
    for (k, pattern) in wanted.enumerated() {
      let word = text[start + k]
      if pattern.last == "*" ? !word.hasPrefix(pattern.dropLast()) : word != pattern { all = false; break }
    }
    if all { found.append(start..<(start + wanted.count)) }
  }
  return found
}


/// A value naming a prediction target.
func objectiveValue(_ text: String) -> Objective? {
  let w = normalisedWords(text)
  if contains(w, "eps") || contains(w, "epsilon") || contains(w, "noise") || contains(w, "pred noise") || contains(w, "ε") { return .eps }
  if contains(w, "x0") || contains(w, "pred x0") || contains(w, "clean image*") || contains(w, "start") { return .x0 }
  if contains(w, "v") || contains(w, "velocity") || contains(w, "pred v") || contains(w, "v prediction") { return .v }
  return nil
}
