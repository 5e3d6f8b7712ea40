// Names are names: the plan's, its stages' and its ablations' names are checked where the plan loads,
// and become file names through one function; every path the study derives from them, or reads from
// a results file, is checked to stay inside the study directory.
import Foundation

/// The longest name, in UTF-8 bytes (a file name may hold 255; a stage's directory adds its identity).
public let maximumNameBytes = 100

/// Checks a name a plan gives (`what` says which, e.g. "stages[1].name"): not empty, at most
/// `maximumNameBytes` bytes, no control character (a newline would end a script's comment or a
/// report's table row) and, when it can become a file name (`fileName`), no `/`, `\`, and neither
/// `.` nor `..` nor a leading `.`.
func checkName(_ name: String, _ what: String, isFileName: Bool, limit: Int = maximumNameBytes) throws {
  guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw PlanError("\(what) is empty; give it a name") }
  guard name.utf8.count <= limit else {
    throw PlanError("\(what) is \(name.utf8.count) bytes long; it may be at most \(limit): shorten \(String(name.prefix(40)).debugDescription)…")
  }
  if let c = name.unicodeScalars.first(where: { CharacterSet.controlCharacters.contains($0) }) {
    throw PlanError("\(what) \(name.debugDescription) holds a control character (U+\(String(format: "%04X", c.value))); names are one line of text")
  }
  guard isFileName else { return }
  if name.contains("/") || name.contains("\\") {
    throw PlanError("\(what) \(name.debugDescription) holds a path separator; it names a folder of the study, so use letters, digits, - or _")
  }
  if name.hasPrefix(".") {
    throw PlanError("\(what) \(name.debugDescription) starts with a dot (\".\", \"..\" and hidden names are not study folders); rename it")
  }
}

/// The file name a name is stored under (a stage's run directory, a plan's study directory). Names are
/// checked where the plan loads (`checkName`), and a checked name is its own file name; one that did
/// not pass through a plan (a library caller's) has its separators, control characters and leading
/// dots replaced by `_` and is cut to `maximumNameBytes`, so no name reaches outside its folder.
public func fileName(_ name: String) -> String {
  if (try? checkName(name, "name", isFileName: true)) != nil { return name }
  var scalars = String.UnicodeScalarView()
  for c in name.unicodeScalars {
    let bad = c == "/" || c == "\\" || CharacterSet.controlCharacters.contains(c) || (scalars.isEmpty && c == ".")
    scalars.append(bad ? "_" : c)
  }
  var out = String(scalars)
  while out.utf8.count > maximumNameBytes { out.removeLast() }
  return out.isEmpty ? "_" : out
}

/// An error about a path that leaves its root.
public struct PathEscapeError: Error, CustomStringConvertible {
  public let message: String
  public var description: String { message }
}

/// `relative` under `root`, refused unless it stays there: it must be relative, hold no `..`, and
/// resolve (symbolic links followed) to a place inside `root`. `what` names the path in the error.
public func resolveInside(_ root: URL, _ relative: String, what: String) throws -> URL {
  let parts = relative.split(separator: "/", omittingEmptySubsequences: true)
  guard !relative.hasPrefix("/"), !parts.isEmpty, !parts.contains(".."),
        !relative.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
    throw PathEscapeError(message: "\(what) is \(relative.debugDescription), which is not a path inside \(root.path); refused")
  }
  let url = root.appendingPathComponent(relative)
  try checkInside(root, url, what: what)
  return url
}

/// Refuses `url` unless, symbolic links followed, it lies inside `root`.
public func checkInside(_ root: URL, _ url: URL, what: String) throws {
  let base = root.standardizedFileURL.resolvingSymlinksInPath().path
  let real = url.standardizedFileURL.resolvingSymlinksInPath().path
  guard real == base || real.hasPrefix(base.hasSuffix("/") ? base : base + "/") else {
    throw PathEscapeError(message: "\(what) leads to \(real), outside \(base); refused")
  }
}
