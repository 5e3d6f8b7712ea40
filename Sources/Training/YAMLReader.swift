// The one way configuration, plan and `--set` YAML is read. YAML files are untrusted input, and the
// composer (Yams) builds and frees its node tree recursively, so a file nested 100 000 levels deep
// overflows the stack, and aliases can describe a document of billions of nodes in a few hundred
// bytes. So the text is first bounded in size, then walked once through libyaml's event stream (an
// iterative parser: no recursion, no tree) counting nesting depth and the node count with aliases
// expanded; only a document within those limits is composed. Duplicate keys, which YAML readers
// resolve silently (the last one wins), are refused with both lines named.
import CYaml
import Foundation
import Yams

/// The bounds on a YAML document, checked before it is composed.
public enum YAMLLimits {
  /// The largest document read, in bytes (configs and plans are a few kilobytes).
  public static let maximumBytes = 1 << 20
  /// The deepest nesting of mappings and sequences (configs use 2, plans 5).
  public static let maximumDepth = 64
  /// The most nodes a document may stand for, counting each alias as the nodes it repeats.
  public static let maximumNodes = 100_000
}

/// Reads YAML text within `YAMLLimits`; the errors name `source`, the line and the fix.
public enum YAMLReader {
  /// The document's root node (nil for an empty document). `allowedDuplicates` lists dotted key
  /// paths (`define`) that may repeat: the authors' config files write `define:` twice, to hold YAML
  /// anchors, and this tool never reads its value.
  public static func compose(_ text: String, source: String, allowedDuplicates: Set<String> = []) throws -> Node? {
    let size = text.utf8.count
    guard size <= YAMLLimits.maximumBytes else {
      throw ConfigError("\(source) is \(size) bytes, more than the \(YAMLLimits.maximumBytes) a YAML file may have here; configs and plans are a few kilobytes")
    }
    try checkShape(text, source: source)
    let root: Node?
    do { root = try Yams.compose(yaml: text) } catch {
      throw ConfigError("\(source) is not valid YAML: \(error)")
    }
    if let root { try checkDuplicates(root, path: "", source: source, allowed: allowedDuplicates) }
    return root
  }

  /// The text of the YAML file at `path`, read no further than the size limit (a larger file, or an
  /// endless one such as /dev/zero, is refused); nil when it cannot be read as UTF-8 text.
  public static func contents(ofFile path: String) throws -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let data = try? handle.read(upToCount: YAMLLimits.maximumBytes + 1) ?? Data() else { return nil }
    guard data.count <= YAMLLimits.maximumBytes else {
      throw ConfigError("\(path) is larger than the \(YAMLLimits.maximumBytes) bytes a YAML file may have here; configs and plans are a few kilobytes")
    }
    return String(data: data, encoding: .utf8)
  }

  /// Walks the event stream, refusing documents nested deeper than `maximumDepth` or standing for
  /// more than `maximumNodes` nodes. A syntax error ends the walk quietly: composing reports it,
  /// with Yams' description of where.
  static func checkShape(_ text: String, source: String) throws {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else { throw ConfigError("\(source): out of memory reading YAML") }
    defer { yaml_parser_delete(&parser) }
    let bytes = Array(text.utf8)
    try bytes.withUnsafeBufferPointer { buffer in
      yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
      yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
      // For each open collection: its anchor, the node count and the depth below it so far.
      var open: [(anchor: String?, startNodes: Int, deepest: Int)] = []
      var anchors: [String: (nodes: Int, depth: Int)] = [:]
      var nodes = 0
      func fail(_ line: Int, _ what: String) -> ConfigError {
        ConfigError("\(source) line \(line): \(what); a configuration needs a few levels and a few hundred values")
      }
      func reached(depth: Int, line: Int) throws {
        guard depth <= YAMLLimits.maximumDepth else {
          throw fail(line, "nesting deeper than \(YAMLLimits.maximumDepth) levels")
        }
        if let last = open.indices.last { open[last].deepest = max(open[last].deepest, depth) }
      }
      while true {
        var event = yaml_event_t()
        guard yaml_parser_parse(&parser, &event) == 1 else { return }
        defer { yaml_event_delete(&event) }
        let line = Int(event.start_mark.line) + 1
        switch event.type {
        case YAML_STREAM_END_EVENT:
          return
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
          nodes += 1
          let anchor = event.type == YAML_SEQUENCE_START_EVENT
            ? string(event.data.sequence_start.anchor) : string(event.data.mapping_start.anchor)
          try reached(depth: open.count + 1, line: line)
          open.append((anchor, nodes, open.count + 1))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
          guard let closed = open.popLast() else { return }
          if let a = closed.anchor { anchors[a] = (nodes - closed.startNodes + 1, closed.deepest - open.count) }
          if let last = open.indices.last { open[last].deepest = max(open[last].deepest, closed.deepest) }
        case YAML_SCALAR_EVENT:
          nodes += 1
          if let a = string(event.data.scalar.anchor) { anchors[a] = (1, 0) }
        case YAML_ALIAS_EVENT:
          let repeated = string(event.data.alias.anchor).flatMap { anchors[$0] } ?? (1, 0)
          nodes += repeated.nodes
          try reached(depth: open.count + repeated.depth, line: line)
        default:
          break
        }
        guard nodes <= YAMLLimits.maximumNodes else {
          throw fail(line, "more than \(YAMLLimits.maximumNodes) values (counting what each alias repeats)")
        }
      }
    }
  }

  /// Refuses a key written twice in one mapping, naming it and both lines.
  static func checkDuplicates(_ node: Node, path: String, source: String, allowed: Set<String>) throws {
    switch node {
    case let .mapping(mapping):
      var seen: [String: Int] = [:]
      for (key, value) in mapping {
        let name = key.scalar?.string ?? key.any
        let dotted = path.isEmpty ? name : "\(path).\(name)"
        let line = key.mark?.line ?? 0
        if let first = seen[name], !allowed.contains(dotted) {
          throw ConfigError("\(source) line \(line): the key \(dotted) is written twice (lines \(first) and \(line)); YAML would keep only the last, so remove one")
        }
        seen[name] = line
        try checkDuplicates(value, path: dotted, source: source, allowed: allowed)
      }
    case let .sequence(sequence):
      for (i, item) in sequence.enumerated() {
        try checkDuplicates(item, path: "\(path)[\(i)]", source: source, allowed: allowed)
      }
    case .scalar:
      break
    }
  }

  private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    pointer.map { String(cString: $0) }
  }
}
