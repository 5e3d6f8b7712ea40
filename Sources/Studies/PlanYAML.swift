// YAML helpers of the plan reader: deep merging (presets and defaults are layered mappings) and typed
// reads with errors that name the key. Configuration changes are `ConfigEdit`s (Training).
import Foundation
import Training
import Yams

/// `over` laid on `base`: mappings merge key by key (recursively); anything else replaces.
func merged(_ base: Node, _ over: Node, path: [String] = []) -> Node {
  guard let b = base.mapping, let o = over.mapping else { return over }
  var pairs: [(Node, Node)] = b.map { ($0.key, $0.value) }
  // A named dataset is replaced whole: a plan's `target:` must not inherit the CLASSES or FRACTION of
  // the built-in entry of the same name.
  let replacesEntries = path == ["datasets"]
  for (k, v) in o {
    if let i = pairs.firstIndex(where: { $0.0.string == k.string }) {
      pairs[i].1 = replacesEntries ? v : merged(pairs[i].1, v, path: path + [k.string ?? ""])
    } else {
      pairs.append((k, v))
    }
  }
  return Node(pairs, Tag(.map), .block)
}

/// An empty mapping.
let emptyMapping = Node([(Node, Node)](), Tag(.map), .block)

/// Reads of one mapping of a plan, each failing with the key's full path.
struct PlanMapping {
  let node: Node
  let path: String

  init(_ node: Node?, path: String, allowed: [String]) throws {
    let node = node ?? emptyMapping
    guard let map = node.mapping else { throw PlanError("\(path.isEmpty ? "the plan" : path) must be a mapping of keys") }
    for key in map.keys.compactMap(\.string) where !allowed.contains(key) {
      let hint = closestKey(to: key, among: allowed).map { "; did you mean \($0)?" } ?? ""
      throw PlanError("unknown key \(Self.join(path, key))\(hint) (known: \(allowed.joined(separator: ", ")))")
    }
    self.node = node
    self.path = path
  }

  static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
  func at(_ key: String) -> String { Self.join(path, key) }
  subscript(_ key: String) -> Node? { node.mapping?[key] }

  func string(_ key: String) throws -> String? {
    guard let n = self[key], !n.isNullNode else { return nil }
    guard let s = n.scalar?.string else { throw PlanError("\(at(key)) must be a string") }
    return s
  }
  func double(_ key: String) throws -> Double? {
    guard let n = self[key], !n.isNullNode else { return nil }
    guard let d = n.float ?? n.int.map(Double.init) else { throw PlanError("\(at(key)) must be a number (got \(n.scalar?.string ?? "?"))") }
    guard d.isFinite else { throw PlanError("\(at(key)) must be a finite number (got \(n.scalar?.string ?? "\(d)"))") }
    return d
  }
  func int(_ key: String) throws -> Int? {
    guard let d = try double(key) else { return nil }
    guard d == d.rounded(), abs(d) < 1e15 else { throw PlanError("\(at(key)) must be a whole number (got \(d))") }
    return Int(d)
  }
  func bool(_ key: String) throws -> Bool? {
    guard let n = self[key], !n.isNullNode else { return nil }
    guard let b = n.bool else { throw PlanError("\(at(key)) must be true or false") }
    return b
  }
  func sequence(_ key: String) throws -> [Node] {
    guard let n = self[key], !n.isNullNode else { return [] }
    guard let s = n.sequence else { throw PlanError("\(at(key)) must be a list") }
    return Array(s)
  }
}

extension Node {
  var isNullNode: Bool { null != nil }
  /// A scalar's text, or the node in flow YAML (for messages and labels).
  var text: String {
    if let s = scalar?.string { return s }
    return ((try? Yams.serialize(node: self)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// The edits of a plan's `set:` mapping (or of a named dataset, `section: "dataset"`), as plan errors.
func planEdits(_ node: Node?, path: String, section: String? = nil) throws -> [ConfigEdit] {
  try within([]) { try ConfigEdit.edits(from: node, path: path, section: section) }
}
