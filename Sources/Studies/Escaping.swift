// One escaping rule per sink. A plan's names, titles and errors, and a results file's strings, reach
// four kinds of output: HTML (report.html), Markdown tables (report.md), CSV (results.csv) and shell
// scripts (slurm.sh and the job scripts). Each sink has one function here, and the writers of that
// sink put every user-controlled string through it (docs/untrusted-input.md lists them).
import Foundation

/// A piece of HTML. Its literal parts are markup; every `String` interpolated into it is escaped, so a
/// template cannot take a raw string: markup comes only from literals, other `HTML` values and the
/// charts (whose texts `SVGChart` escapes itself).
public struct HTML: ExpressibleByStringInterpolation, CustomStringConvertible, Equatable {
  public private(set) var markup: String

  public init(stringLiteral value: String) { markup = value }
  public init(stringInterpolation: StringInterpolation) { markup = stringInterpolation.markup }
  /// Text shown as text: `<`, `>`, `&`, `"` and `'` escaped.
  public init(text: String) { markup = escapeHTML(text) }
  public var description: String { markup }

  public struct StringInterpolation: StringInterpolationProtocol {
    var markup = ""
    public init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity * 2) }
    public mutating func appendLiteral(_ literal: String) { markup += literal }
    /// A user's or the tool's text: escaped.
    public mutating func appendInterpolation(_ text: String) { markup += escapeHTML(text) }
    public mutating func appendInterpolation(_ html: HTML) { markup += html.markup }
    public mutating func appendInterpolation(_ number: Int) { markup += String(number) }
    mutating func appendInterpolation(_ chart: SVGChart) { markup += chart.render() }
  }

  public static func + (a: HTML, b: HTML) -> HTML {
    var r = a
    r.markup += b.markup
    return r
  }
  public static func += (a: inout HTML, b: HTML) { a.markup += b.markup }
}

extension Sequence where Element == HTML {
  public func joined() -> HTML { reduce(into: HTML("")) { $0 += $1 } }
}

/// HTML's five special characters as entities (text content and quoted attribute values alike).
func escapeHTML(_ s: String) -> String {
  var out = ""
  out.reserveCapacity(s.utf8.count)
  for c in s.unicodeScalars {
    switch c {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.unicodeScalars.append(c)
    }
  }
  return out
}

/// Text in report.md outside tables: line breaks (and other control characters) become spaces, so a
/// name cannot start a heading, a list or a table of its own.
func markdownText(_ s: String) -> String {
  String(String.UnicodeScalarView(s.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : $0 }))
}

/// One cell of a Markdown table: as `markdownText`, with `|` escaped (`\|`) so that it stays one cell.
func markdownCell(_ s: String) -> String {
  markdownText(s).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
}

/// The text of a Markdown link or image (`![TEXT](…)`): as `markdownText`, brackets escaped.
func markdownLinkText(_ s: String) -> String {
  markdownText(s).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "[", with: "\\[").replacingOccurrences(of: "]", with: "\\]")
}

/// One field of results.csv (RFC 4180): quoted when it holds a comma, a quote, CR or LF, quotes
/// doubled. A text cell that a spreadsheet would run as a formula (one that starts with `=`, `+`,
/// `-`, `@`, a tab or CR and is not a number) gets a leading `'`, so it is shown, not evaluated.
func csvField(_ s: String) -> String {
  var s = s
  if let first = s.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(s) == nil { s = "'" + s }
  guard s.unicodeScalars.contains(where: { ",\"\r\n".unicodeScalars.contains($0) }) else { return s }
  return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// One word of a shell script, always in single quotes (a `'` inside becomes `'\''`): bash reads it
/// back as exactly `s`, whatever it holds. Every value a Slurm script runs with goes through here.
public func shellWord(_ s: String) -> String {
  "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// A comment line's text: control characters (a newline would end the comment) become spaces.
func shellCommentText(_ s: String) -> String { markdownText(s) }
