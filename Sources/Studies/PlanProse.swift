// Reading the ablation plans researchers write: a section after a heading containing "Ablation
// Plan" with, per ablation, a heading and fields for the ablated part, the action, the replacements
// and the metrics. The seed format (`### name`, `- **Ablated Part**: …` inside an HTML box) and its
// usual variants are read alike: HTML lists and headings (`<h3>`, `<li><strong>Action</strong>: …`),
// `*`/`+`/numbered bullets, `**Key:**` or plain `Key:` fields, replacements as sub-bullets or inline
// ("0.1, 0.5, 0.9").
import Foundation

/// One ablation as written in a plan.
public struct MarkdownAblation: Equatable {
  public var name: String
  public var part: String
  public var action: String
  public var replacements: [String]
  public var metrics: [String]
}

/// Reads the ablations of a plan (the section after a line containing "Ablation Plan", or the whole
/// text when there is none). A heading without any field is not an ablation.
public func parseMarkdownPlan(_ text: String) throws -> [MarkdownAblation] {
  var lines = htmlAsMarkdown(text).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
  if let start = lines.firstIndex(where: { $0.contains("Ablation Plan") }) { lines = Array(lines[(start + 1)...]) }
  var out: [MarkdownAblation] = []
  var current: MarkdownAblation?
  var hasFields = false
  var field = ""
  func flush() { if let c = current, hasFields { out.append(c) }; current = nil }
  for line in lines {
    let t = line.trimmingSpaces()
    if let name = headingText(t) {
      flush()
      current = MarkdownAblation(name: name, part: "", action: "", replacements: [], metrics: [])
      (hasFields, field) = (false, "")
      continue
    }
    guard current != nil else { continue }
    // An indented `- **Label**: words` under the replacements is a replacement, not a new field.
    if fieldKind(field) == "replacements", line.first?.isWhitespace == true, let (key, value) = planField(t), fieldKind(key).isEmpty {
      current!.replacements.append(value.isEmpty ? unquoted(key) : "\(unquoted(key)): \(value)")
      continue
    }
    if let (key, value) = planField(t) {
      (field, hasFields) = (key, true)
      switch fieldKind(key) {
      case "part": current!.part = value
      case "action": current!.action = value.uppercased()
      case "replacements": current!.replacements += inlineValues(value)
      case "metrics": current!.metrics = value.split { $0 == "," || $0 == ";" }.map { unquoted($0.trimmingSpaces()) }.filter { !$0.isEmpty }
      default: break
      }
    } else if let item = bulletText(t), fieldKind(field) == "replacements", !item.isEmpty {
      current!.replacements.append(unquoted(item))
    }
  }
  flush()
  guard !out.isEmpty else { throw PlanError("no ablations found: expected `### name` headings with `- **Ablated Part**:` bullets") }
  return out
}

/// What a field's key is: "part", "action", "replacements", "metrics", or "" for any other.
private func fieldKind(_ key: String) -> String {
  if key.hasPrefix("ablated") || key == "part" || key.hasPrefix("component") || key == "ablation target" { return "part" }
  if key.hasPrefix("action") { return "action" }
  if key.hasPrefix("replacement") || key.hasPrefix("alternative") || key == "values" || key == "variants" || key == "options" {
    return "replacements"
  }
  if key.hasPrefix("metric") { return "metrics" }
  return ""
}

/// The name of a heading line: `### name` (any level from 2), or a line that is all bold.
private func headingText(_ t: String) -> String? {
  if t.hasPrefix("##") {
    let name = t.drop { $0 == "#" }.trimmingSpaces()
    return name.isEmpty ? nil : unquoted(name)
  }
  if t.count > 4, t.hasPrefix("**"), t.hasSuffix("**"), !t.dropFirst(2).dropLast(2).contains("**") {
    return unquoted(String(t.dropFirst(2).dropLast(2)).trimmingSpaces().trimmingCharacters(in: CharacterSet(charactersIn: ":")))
  }
  return nil
}

/// The text of a bullet line (`-`, `*`, `+`, `•` or `1.`), or nil.
private func bulletText(_ t: String) -> String? {
  for mark in ["- ", "* ", "+ ", "• "] where t.hasPrefix(mark) { return String(t.dropFirst(mark.count)).trimmingSpaces() }
  let digits = t.prefix { $0.isNumber }
  if !digits.isEmpty, t.dropFirst(digits.count).hasPrefix(". ") || t.dropFirst(digits.count).hasPrefix(") ") {
    return String(t.dropFirst(digits.count + 2)).trimmingSpaces()
  }
  return nil
}

/// `**Key**: value`, `**Key:** value`, `__Key__: value` (bulleted or not) → (key, value); a plain
/// `Key: value` only for the keys a plan has.
private func planField(_ line: String) -> (String, String)? {
  let t = bulletText(line) ?? line
  for mark in ["**", "__"] where t.hasPrefix(mark) {
    guard let close = t.dropFirst(2).firstRange(of: mark) else { return nil }
    let key = t.dropFirst(2)[..<close.lowerBound].trimmingCharacters(in: CharacterSet(charactersIn: ": "))
    var value = String(t[close.upperBound...]).trimmingSpaces()
    if value.hasPrefix(":") { value.removeFirst() }
    else if !t.dropFirst(2)[..<close.lowerBound].hasSuffix(":"), fieldKind(key.lowercased()).isEmpty { return nil }
    return (key.lowercased(), value.trimmingSpaces())
  }
  guard let colon = t.firstIndex(of: ":") else { return nil }
  let key = t[..<colon].trimmingSpaces().lowercased()
  guard !fieldKind(key).isEmpty else { return nil }
  return (key, String(t[t.index(after: colon)...]).trimmingSpaces())
}

/// Replacements written on the field's line: one value, or a list of short ones ("0.1, 0.5, 0.9",
/// "patch; block 4; crop"). A long sentence with a comma stays one value.
private func inlineValues(_ value: String) -> [String] {
  let pieces = value.split { $0 == "," || $0 == ";" }.map { unquoted($0.trimmingSpaces()) }.filter { !$0.isEmpty }
  let v = unquoted(value)
  guard !v.isEmpty else { return [] }
  return pieces.count > 1 && pieces.allSatisfy({ $0.split(separator: " ").count <= 4 }) ? pieces : [v]
}

/// A value without the Markdown around it: `block 4`, **0.5**, "CelebA".
private func unquoted(_ text: String) -> String {
  var t = text.trimmingSpaces()
  for (open, close) in [("`", "`"), ("**", "**"), ("__", "__"), ("\"", "\""), ("“", "”"), ("'", "'"), ("*", "*")]
  where t.count > open.count + close.count && t.hasPrefix(open) && t.hasSuffix(close) {
    t = String(t.dropFirst(open.count).dropLast(close.count)).trimmingSpaces()
  }
  return t
}

/// HTML as the Markdown the reader takes: headings as `##`/`###`, list items as `- `, bold as `**`,
/// block ends as line breaks, other tags and `<style>`/`<script>` contents dropped, entities decoded.
/// It works on the UTF-8 bytes (tags are ASCII) and looks for each `>` once, so hostile text stays linear.
func htmlAsMarkdown(_ text: String) -> String {
  guard text.contains("<") else { return text }
  let bytes = Array(text.utf8)
  let (open, close, slash) = (UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "/"))
  var out: [UInt8] = []
  out.reserveCapacity(bytes.count)
  var skipping: String? = nil  // inside <style> or <script>
  var nextClose = bytes.firstIndex(of: close)
  var i = 0
  while i < bytes.count {
    if let c = nextClose, c < i { nextClose = bytes[i...].firstIndex(of: close) }
    // A tag: `<`, a name, anything but `<`, then `>` within a few hundred bytes ("a < b" is not one).
    guard bytes[i] == open, let end = nextClose, end - i <= 400, !bytes[(i + 1)..<end].contains(open) else {
      if skipping == nil { out.append(bytes[i]) }
      i += 1
      continue
    }
    let tag = bytes[(i + 1)..<end]
    let closing = tag.first == slash
    let name = String(decoding: tag.drop { $0 == slash }.prefix { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) },
                      as: UTF8.self).lowercased()
    guard !name.isEmpty else {
      if skipping == nil { out.append(bytes[i]) }
      i += 1
      continue
    }
    i = end + 1
    if let s = skipping { if closing && name == s { skipping = nil }; continue }
    out += Array(markdown(forTag: name, closing: closing, skipping: &skipping).utf8)
  }
  var result = String(decoding: out, as: UTF8.self)
  for (entity, character) in [("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
    result = result.replacingOccurrences(of: entity, with: character)
  }
  return result
}

/// What an HTML tag becomes in the Markdown the reader takes.
private func markdown(forTag name: String, closing: Bool, skipping: inout String?) -> String {
  switch name {
  case "style", "script": if !closing { skipping = name }; return ""
  case "h1", "h2": return closing ? "\n" : "\n## "
  case "h3", "h4", "h5", "h6": return closing ? "\n" : "\n### "
  case "li": return closing ? "\n" : "\n- "
  case "strong", "b": return "**"
  case "br", "p", "div", "ul", "ol", "tr", "table", "section": return "\n"
  default: return ""
  }
}
