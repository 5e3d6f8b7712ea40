import Foundation

/// The processes a test started, read from /proc (to check that a killed job leaves none behind).
enum ProcessTree {
  /// Processes whose parent is `parent` (from /proc).
  static func children(of parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")") else { return false }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      return fields.count > 2 && Int32(fields[1]) == parent
    }
  }

  /// `parent`'s descendants whose environment holds `variable` (e.g. the ranks an MPI launcher started,
  /// by OMPI_COMM_WORLD_RANK), with its value.
  static func descendants(of parent: Int32, withVariable variable: String) -> [(pid: Int32, value: String)] {
    var found: [(Int32, String)] = [], queue = children(of: parent)
    while let pid = queue.popLast() {
      queue += children(of: pid)
      guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
      for entry in environ.split(separator: 0) {
        let text = String(decoding: entry, as: UTF8.self)
        if text.hasPrefix(variable + "=") { found.append((pid, String(text.dropFirst(variable.count + 1)))) }
      }
    }
    return found
  }

  /// True while `pid` runs (a zombie waiting to be reaped counts as gone).
  static func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
  }
}

/// A program a test needs is not installed: the test fails with this message (the bootstrap installs it).
struct MissingTool: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}
