// Turning a researcher's ablation plan (read by PlanProse.swift) into a plan YAML that runs with the
// built-in presets. Each ablation is read on its own: its part (PartRecognition.swift), its action
// and its values (ImportValues.swift), then expanded alone to check that it runs. A plan is never lost
// for one unreadable ablation: the ones understood are written, and each unreadable one is written
// as a commented block naming the best candidates and the one line to edit.
import Foundation
import MaskDM
import Training
import Yams

/// How every plan `study import` writes begins (so that it may replace its own earlier output).
public let importedPlanHeader = "# Imported by `maskdm study import`"

/// One ablation of an import: how it was read, or why it was not.
public struct ImportedAblation: Equatable {
  public var source: MarkdownAblation
  public var part: PlanPart?
  public var action: AblationAction = .replace
  public var replacements: [ImportedValue] = []
  /// The lines `--explain` prints (the plan keeps them as comments).
  public var explanation: [String] = []
  /// Why the ablation was not imported; nil when it was.
  public var problem: String?
  /// The field to edit to make it readable: `part`, `action`, `replacements` or `metrics`.
  public var lineToEdit = "part"
  /// What that line could say (the best candidate parts, or the actions).
  public var candidates: [String] = []
  public var isImported: Bool { problem == nil }
}

/// An imported plan: the YAML to write, every ablation's reading, and what was left out.
public struct PlanImport {
  public var yaml: String
  public var ablations: [ImportedAblation]
  public var explanation: [String] { ablations.flatMap(\.explanation) }
  public var unreadable: [ImportedAblation] { ablations.filter { !$0.isImported } }

  /// The error to report when some ablation was not imported (nil when all were).
  public var failure: String? {
    let missing = unreadable
    guard !missing.isEmpty else { return nil }
    let each = missing.map { a in
      "ablation \(a.source.name) was not imported: \(a.problem!); edit its \(a.lineToEdit): line"
        + (a.candidates.isEmpty ? "" : " (best candidates: \(a.candidates.joined(separator: ", ")))")
    }
    return "\(missing.count) of \(ablations.count) ablations not imported: " + each.joined(separator: "; ")
  }
}

/// Imports a plan; throws only when it holds no ablation at all.
public func importPlan(_ text: String, name: String) throws -> PlanImport {
  let ablations = try parseMarkdownPlan(text).map { readAblation($0) }
  let written = ablations.filter(\.isImported)
  let doc = Node([(Node("name"), Node(name)), (Node("title"), Node("Ablations of \(name)")),
                  (Node("ablations"), Node(written.map(planNode), Tag(.seq), .block))], Tag(.map), .block)
  let header = importedPlanHeader + " from a markdown ablation plan. Run it with\n"
    + "#   maskdm study run PLAN.yaml --preset quick   (Fashion-MNIST, CPU, minutes)\n"
    + "#   maskdm study run PLAN.yaml --preset paper   (CelebA-64 at the authors' settings, GPU)\n"
    + "# Base model, stages and evaluation come from the built-in presets; add base:, stages:, evaluation: or\n"
    + "# datasets: here to change them.\n" + ablations.flatMap(\.explanation).map { "# \($0)\n" }.joined()
  let unreadable = try ablations.filter { !$0.isImported }.map(commentedBlock).joined()
  return PlanImport(yaml: header + (try Yams.serialize(node: doc)) + unreadable, ablations: ablations)
}

/// The imported plan and, per ablation, how it was read; an error when any ablation was not imported.
public func explainedImport(_ text: String, name: String) throws -> (yaml: String, explanation: [String]) {
  let imported = try importPlan(text, name: name)
  if let failure = imported.failure { throw PlanError(failure) }
  return (imported.yaml, imported.explanation)
}

/// A runnable plan (YAML) for the ablations of a markdown plan; every ablation must be readable.

/// Why an ablation is not imported, the line to edit and what it could say.
private struct Unreadable: Error {
  var problem: String
  var line: String
  var candidates: [String] = []
}

/// Reads one ablation: its action, its part, its values; then checks that it expands alone.
private func readAblation(_ a: MarkdownAblation) -> ImportedAblation {
  var out = ImportedAblation(source: a)
  do {
    guard let action = actionValue(a.action) else {
      throw Unreadable(problem: "action \"\(a.action)\" is neither REMOVE nor REPLACE", line: "action", candidates: ["REMOVE", "REPLACE"])
    }
    guard !a.part.isEmpty else { throw Unreadable(problem: "it has no Ablated Part", line: "part") }
    let recognition: PartRecognition
    switch PlanPart.weigh(a.part, replacements: a.replacements, action: action) {
    case let .success(r): recognition = r
    case let .failure(refusal): throw Unreadable(problem: refusal.message, line: "part", candidates: refusal.candidates.map(\.part.canonicalName))
    }
    let part = recognition.part
    var notes: [String]
    (out.part, out.action, out.replacements, notes) = try readValues(a, part, action)
    let named = Wording(a.part).named
    if part.changesEveryStage, named.count == 1 {
      notes.append("the part names \(named.first!.rawValue), but an ablation of the \(part.label) changes every stage; "
                     + "to change one stage only, set it in that stage's set: of the plan's stages: instead.")
    }
    do {
      // The ablation is read back as a plan reads it, and written in the spelling of the choices it compiles to.
      let alone = Node([(Node("ablations"), Node([planNode(out)], Tag(.seq), .block))], Tag(.map), .block)
      let plan = try StudyPlan(yaml: try Yams.serialize(node: alone), name: "check")
      _ = try Experiment(plan: plan)
      for (i, spelling) in (plan.ablations.first?.spelledReplacements ?? []).enumerated() where i < out.replacements.count {
        out.replacements[i].text = spelling
      }
    } catch {
      throw Unreadable(problem: "\(error)", line: "\(error)".contains("metric") ? "metrics" : "replacements")
    }
    out.explanation = explanation(of: a, recognition, out) + notes.map { "  \($0)" }
  } catch {
    let why = error as? Unreadable ?? Unreadable(problem: "\(error)", line: "part")
    (out.problem, out.lineToEdit, out.candidates) = (why.problem, why.line, why.candidates)
    let candidates = why.candidates.isEmpty ? "" : " (best candidates: \(why.candidates.joined(separator: ", ")))"
    out.explanation = ["\(a.name): NOT IMPORTED: \(why.problem)",
                       "  edit its \(why.line): line\(candidates) in the commented block at the end of the plan, then uncomment it."]
  }
  return out
}

/// The variants of an ablation of `part`: its replacements read, or REMOVE as the part's "off" value
/// where the part has one; with notes saying what was filled in.
private func readValues(_ a: MarkdownAblation, _ part: PlanPart, _ action: AblationAction) throws
  -> (PlanPart, AblationAction, [ImportedValue], [String]) {
  if action == .remove {
    guard !part.isRemovable else { return (part, .remove, [], []) }
    guard let off = part.offValue else {
      throw Unreadable(problem: "the \(part.label) cannot be removed; REPLACE it with values", line: "action", candidates: ["REPLACE"])
    }
    return (part, .replace, [off], ["REMOVE \(part.canonicalName): \(off.note!) (written as REPLACE with \(off.text))."])
  }
  guard !a.replacements.isEmpty else { throw Unreadable(problem: "REPLACE without replacements", line: "replacements") }
  var values: [ImportedValue]
  do { values = try a.replacements.map(part.importedValue) } catch {
    throw Unreadable(problem: "a replacement of the \(part.label) is not readable: \(error)", line: "replacements",
                     candidates: [PlanPart.meaning(of: part)])
  }
  var notes = values.compactMap(\.note)
  if part == .schedule, !values.contains(where: { $0.text == ScheduleChoice.dsmOnly.rawValue }) {
    values.append(ImportedValue(text: ScheduleChoice.dsmOnly.rawValue))
    notes.append("dsm_only (the DDPM baseline, DSM for the whole budget) is added beside the plan's replacements.")
  }
  return (part, .replace, values, notes)
}

/// REMOVE or REPLACE, in the words plans use for them.
private func actionValue(_ text: String) -> AblationAction? {
  let word = text.uppercased().split { !$0.isLetter }.first.map(String.init) ?? "REPLACE"
  if ["REPLACE", "SUBSTITUTE", "SWAP", "VARY", "CHANGE", "MODIFY", "SWEEP", "COMPARE"].contains(word) { return .replace }
  if ["REMOVE", "DROP", "DELETE", "DISABLE", "OMIT", "EXCLUDE", "ABLATE"].contains(word) { return .remove }
  return nil
}

/// An ablation as the plan writes it.
private func planNode(_ a: ImportedAblation) -> Node {
  var pairs: [(Node, Node)] = [(Node("name"), Node(a.source.name)), (Node("part"), Node(a.part!.canonicalName)),
                               (Node("action"), Node(a.action.rawValue))]
  if a.action == .replace {
    pairs.append((Node("replacements"), Node(a.replacements.map { Node($0.text) }, Tag(.seq), .flow)))
  }
  pairs.append((Node("metrics"), Node(a.source.metrics.map(canonicalMetric).map { Node($0) }, Tag(.seq), .flow)))
  return Node(pairs, Tag(.map), .block)
}

/// An unreadable ablation as it was written, commented out at the end of the plan, with what to edit.
private func commentedBlock(_ a: ImportedAblation) throws -> String {
  let s = a.source
  var pairs: [(Node, Node)] = [(Node("name"), Node(s.name)), (Node("part"), Node(s.part)),
                               (Node("action"), Node(s.action.isEmpty ? "REPLACE" : s.action))]
  if !s.replacements.isEmpty { pairs.append((Node("replacements"), Node(s.replacements.map { Node($0) }, Tag(.seq), .flow))) }
  pairs.append((Node("metrics"), Node(s.metrics.map(canonicalMetric).map { Node($0) }, Tag(.seq), .flow)))
  let yaml = try Yams.serialize(node: Node([Node(pairs, Tag(.map), .block)], Tag(.seq), .block))
  let edit = "# To run it, edit its \(a.lineToEdit): line"
    + (a.candidates.isEmpty ? "" : " to one of: \(a.candidates.joined(separator: ", "))")
    + ", then remove the \"# \" before each line of the block.\n"
  return "\n# NOT IMPORTED: ablation \(s.name): \(a.problem!)\n" + edit
    + yaml.split(separator: "\n").map { "# \($0)\n" }.joined()
}

/// How one ablation was read, in lines for people.
private func explanation(of a: MarkdownAblation, _ r: PartRecognition, _ out: ImportedAblation) -> [String] {
  var lines = ["\(a.name): part \"\(a.part)\" read as \(r.part.canonicalName) (\(r.ranking[0].reasons.joined(separator: ", ")))."]
  if let second = r.runnerUp {
    lines.append("  runner-up: \(second.part.label), score \(oneDecimal(second.score)) against "
                   + "\(oneDecimal(r.ranking[0].score)) (\(second.reasons.joined(separator: ", "))).")
  } else {
    lines.append("  no other part fits.")
  }
  lines.append(out.action == .remove ? "  variant: without the \(r.part.label)."
                 : "  variants: \(out.replacements.map(\.text).joined(separator: "; ")).")
  return lines
}

/// The metric names a plan uses: "Training Time (GPU Days)" is the measured training time, reported
/// in the unit the machine gives (device-hours on a GPU).
func canonicalMetric(_ text: String) -> String {
  let t = text.lowercased()
  if t.contains("time to") || t.contains("time-to") || t.contains("speed-up") || t.contains("speedup") { return "time to target" }
  if t.contains("precision") { return "precision" }
  if t.contains("recall") { return "recall" }
  if t.contains("time") || t.contains("gpu day") || t.contains("gpu hour") { return "training time" }
  if t.contains("fid") { return "FID" }
  if t.contains("kid") { return "KID" }
  return text
}

extension PlanPart {
  /// The name an imported plan uses for this part.
  var canonicalName: String {
    switch self {
    case .schedule: return "schedule"
    case .objective: return "objective"
    case let .config(key): return key
    default: return label
    }
  }

  /// What a part's replacements are, from the list of known parts.
  static func meaning(of part: PlanPart) -> String {
    known.first { normalisedWords($0.name) == normalisedWords(part.label) || normalisedWords($0.name) == normalisedWords(part.canonicalName) }
      .map { "\($0.name): \($0.meaning)" } ?? "\(part.canonicalName): a value of its configuration key"
  }
}
