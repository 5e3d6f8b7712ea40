// Reading the markdown plans researchers write (an "Ablation Plan" section with, per ablation, a
// `### name` heading and bullets for the ablated part, the action, replacements and metrics) into
// a plan YAML that runs with the built-in presets.
import Foundation
import MaskDM
import Training
import Yams

/// One ablation as written in a markdown plan.
public struct MarkdownAblation: Equatable {
  public var name: String
  public var part: String
  public var action: String
  public var replacements: [String]
  public var metrics: [String]
}

/// Reads the ablations of a markdown plan (the section after a heading containing "Ablation Plan",
/// or the whole text when there is none).
public func parseMarkdownPlan(_ text: String) throws -> [MarkdownAblation] {
  var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
  if let start = lines.firstIndex(where: { $0.contains("Ablation Plan") }) { lines = Array(lines[(start + 1)...]) }
  var out: [MarkdownAblation] = []
  var current: MarkdownAblation?
  var field = ""
  func flush() { if let c = current { out.append(c) }; current = nil }
  /// `- **Key**: value` → (key, value).
  func bullet(_ line: String) -> (String, String)? {
    let t = line.trimmingSpaces()
    guard t.hasPrefix("- **"), let close = t.dropFirst(4).firstRange(of: "**") else { return nil }
    var key = t.dropFirst(4)[..<close.lowerBound]
    while key.first == ":" || key.first == " " { key.removeFirst() }
    while key.last == ":" || key.last == " " { key.removeLast() }
    var value = String(t[close.upperBound...]).trimmingSpaces()
    if value.hasPrefix(":") { value.removeFirst() }
    return (String(key).lowercased(), value.trimmingSpaces())
  }
  for line in lines {
    let t = line.trimmingSpaces()
    if t.hasPrefix("<") { continue }  // the HTML around the markdown
    if t.hasPrefix("### ") {
      flush()
      current = MarkdownAblation(name: String(t.dropFirst(4)).trimmingSpaces(), part: "", action: "", replacements: [], metrics: [])
      field = ""
      continue
    }
    guard current != nil else { continue }
    if let (key, value) = bullet(line) {
      field = key
      if key.hasPrefix("ablated part") || key == "part" { current!.part = value }
      else if key.hasPrefix("action") { current!.action = value.uppercased() }
      else if key.hasPrefix("replacement") { if !value.isEmpty { current!.replacements.append(value) } }
      else if key.hasPrefix("metric") { current!.metrics = value.split(separator: ",").map { $0.trimmingSpaces() } }
    } else if t.hasPrefix("- "), field.hasPrefix("replacement") {
      current!.replacements.append(String(t.dropFirst(2)).trimmingSpaces())
    }
  }
  flush()
  guard !out.isEmpty else { throw PlanError("no ablations found: expected `### name` headings with `- **Ablated Part**:` bullets") }
  for a in out where a.part.isEmpty { throw PlanError("ablation \(a.name) has no **Ablated Part**") }
  return out
}

/// A runnable plan (YAML) for the ablations of a markdown plan; every part must be one `PlanPart` knows.
public func importMarkdownPlan(_ text: String, name: String) throws -> String { try explainedImport(text, name: name).yaml }

/// The imported plan and, per ablation, how its part was read: the words, the part chosen, the
/// runner-up and what counted for each (the plan keeps these lines as comments).
/// How every plan `study import` writes begins (so that it may replace its own earlier output).
public let importedPlanHeader = "# Imported by `maskdm study import`"

public func explainedImport(_ text: String, name: String) throws -> (yaml: String, explanation: [String]) {
  let ablations = try parseMarkdownPlan(text)
  var items: [Node] = []
  var notes: [String] = []
  for a in ablations {
    let action = a.action.isEmpty ? "REPLACE" : a.action
    guard let kind = AblationAction(rawValue: action) else { throw PlanError("ablation \(a.name): action \(a.action) is neither REMOVE nor REPLACE") }
    let recognition: PartRecognition
    do { recognition = try PlanPart.recognize(a.part, replacements: a.replacements, action: kind) } catch let e as PlanError {
      throw PlanError("ablation \(a.name): \(e.message)")
    }
    let part = recognition.part
    var replacements = try a.replacements.map { try canonicalReplacement($0, part: part) }
    if part == .schedule, action == "REPLACE", !replacements.contains(ScheduleChoice.dsmOnly.rawValue) {
      replacements.append(ScheduleChoice.dsmOnly.rawValue)
      notes.append("\(a.name): dsm_only (the DDPM baseline, DSM for the whole budget) is added beside the plan's replacements.")
    }
    var pairs: [(Node, Node)] = [(Node("name"), Node(a.name)), (Node("part"), Node(part.canonicalName)), (Node("action"), Node(action))]
    if action == "REPLACE" {
      pairs.append((Node("replacements"), Node(replacements.map { Node($0) }, Tag(.seq), .flow)))
    }
    pairs.append((Node("metrics"), Node(a.metrics.map(canonicalMetric).map { Node($0) }, Tag(.seq), .flow)))
    items.append(Node(pairs, Tag(.map), .block))
    notes.append(contentsOf: explanation(of: a, recognition, replacements: replacements, action: action))
  }
  let doc = Node([(Node("name"), Node(name)), (Node("title"), Node("Ablations of \(name)")),
                  (Node("ablations"), Node(items, Tag(.seq), .block))], Tag(.map), .block)
  let header = importedPlanHeader + " from a markdown ablation plan. Run it with\n"
    + "#   maskdm study run PLAN.yaml --preset quick   (Fashion-MNIST, CPU, minutes)\n"
    + "#   maskdm study run PLAN.yaml --preset paper   (CelebA-64 at the authors' settings, GPU)\n"
    + "# Base model, stages and evaluation come from the built-in presets; add base:, stages:, evaluation: or\n"
    + "# datasets: here to change them.\n" + notes.map { "# \($0)\n" }.joined()
  return (header + (try Yams.serialize(node: doc)), notes)
}

/// How one ablation's part was read, in lines for people.
private func explanation(of a: MarkdownAblation, _ r: PartRecognition, replacements: [String], action: String) -> [String] {
  var lines = ["\(a.name): part \"\(a.part)\" read as \(r.part.canonicalName) (\(r.ranking[0].reasons.joined(separator: ", ")))."]
  if let second = r.runnerUp {
    lines.append("  runner-up: \(second.part.label), score \(String(format: "%g", second.score)) against \(String(format: "%g", r.ranking[0].score)) (\(second.reasons.joined(separator: ", "))).")
  } else {
    lines.append("  no other part fits.")
  }
  lines.append(action == "REMOVE" ? "  variant: without the \(r.part.label)." : "  variants: \(replacements.joined(separator: "; ")).")
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

/// A replacement as the plan writes it for `part` (numbers for rates and fractions, schedule names).
private func canonicalReplacement(_ text: String, part: PlanPart) throws -> String {
  switch part {
  case .maskRate, .finetuneFraction:
    return String(format: "%g", try fraction(Node(text), what: part.label))
  case .pretrainShare:
    return spelledNumbers(text)
  case .schedule:
    return try ScheduleChoice.parse(text).rawValue
  case .objective:
    guard let o = objectiveValue(text) else { throw PlanError("\(text) is not a prediction target; use pred_noise, pred_x0 or pred_v") }
    return o.configName
  default:
    return text
  }
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
}
