// One way to change a configuration by key: `--set key=value` on the command line and a plan's
// `set:` mappings both become `ConfigEdit`s, checked against `ConfigSchema` when they are made (an
// unknown key fails before anything runs) and applied through the same field as the config file.
import Foundation
import Yams

/// A change of one dotted key (`lr`, `dataset.MASK_RATIO`, `network.mlp_ratio`) to a value as written.
public struct ConfigEdit: Equatable, CustomStringConvertible {
  /// The dotted key.
  public let key: String
  /// The value as the YAML reader gave it (a scalar, a list or null).
  public let value: Node

  /// An edit of `key`; an unknown key is an error naming the closest known one.
  public init(key: String, value: Node) throws {
    guard ConfigSchema.field(key) != nil else {
      let hint = closestKey(to: key, among: ConfigSchema.dottedKeys).map { "; did you mean \($0)?" } ?? ""
      throw ConfigError("unknown configuration key \(key)\(hint)")
    }
    self.key = key
    self.value = value
  }

  /// An edit written `key=value` (the value in YAML: `0.9`, `block`, `[1, 2]`, `null`).
  public init(assignment: String) throws {
    guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
      throw ConfigError("--set wants key=value, got \(assignment)")
    }
    let key = String(assignment[..<eq]), text = String(assignment[assignment.index(after: eq)...])
    let value: Node
    do { value = try YAMLReader.compose(text, source: "the value") ?? Node("", Tag(.str)) } catch let e as ConfigError {
      throw ConfigError("--set \(assignment): \(e.message)")
    }
    try self.init(key: key, value: value)
  }

  /// The edits of a `set:` mapping; the `dataset:` and `network:` sections may nest or be dotted.
  /// `section` prefixes every key (a plan's named datasets are `dataset` keys).
  public static func edits(from node: Node?, path: String, section: String? = nil) throws -> [ConfigEdit] {
    guard let node, node.null == nil else { return [] }
    guard let map = node.mapping else { throw ConfigError("\(path) must be a mapping of configuration keys to values") }
    var out: [ConfigEdit] = []
    for (k, v) in map {
      guard let key = k.string else { continue }
      if section == nil, ["dataset", "network"].contains(key), v.mapping != nil {
        out += try edits(from: v, path: "\(path).\(key)", section: key)
      } else {
        do { out.append(try ConfigEdit(key: section.map { "\($0).\(key)" } ?? key, value: v)) } catch let e as ConfigError {
          throw ConfigError("\(path): \(e.message)")
        }
      }
    }
    return out
  }

  /// An edit that turns a true/false key off (an ablation's REMOVE of that key).
  public static func disabling(_ key: String) throws -> ConfigEdit {
    guard let (_, field) = ConfigSchema.field(key), field.isFlag else {
      throw ConfigError("\(key) is not a true/false key, so it cannot be removed; replace it with values instead")
    }
    return try ConfigEdit(key: key, value: Node("false"))
  }

  /// Every configuration key, dotted.
  public static var keys: [String] { ConfigSchema.dottedKeys }

  /// Sets the key in `config`, checked as a config file's key is.
  public func apply(to config: inout TrainConfig, source: String) throws {
    let field = ConfigSchema.field(key)!.field  // the initialiser checked the key
    do { try field.write(&config, value, key) } catch let e as ConfigError {
      throw ConfigError("\(source): \(e.message)")
    }
  }

  public var description: String { "\(key)=\(value.any)" }

  /// The value as a plan writes it: a scalar's text, anything else in flow YAML.
  public var valueText: String {
    if let s = value.scalar?.string { return s }
    return ((try? Yams.serialize(node: value)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

extension TrainConfig {
  /// This configuration with `edits` applied in order (`validate()` checks the result as a whole).
  public func applying(_ edits: [ConfigEdit], source: String) throws -> TrainConfig {
    var c = self
    // The mask's kind before its sizes, which apply to the kind.
    for edit in edits.filter({ $0.key == "dataset.MASK_TYPE" }) + edits.filter({ $0.key != "dataset.MASK_TYPE" }) {
      try edit.apply(to: &c, source: source)
    }
    return c
  }
}
