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
