// Where a file or folder is written before it is renamed into place: `.NAME.tmp-HOST-PID` beside
// it. A process killed mid-write (kill -9, a lost node) leaves its staging copy behind; the next
// writer of the same NAME removes those of processes that no longer run on this host. Copies of
// other hosts are left alone: on a shared file system their writer may still be running.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Staging names of files and folders written beside their destination, and their clean-up.
public enum StagingName {
  /// This host's name as it appears in staging names (characters other than letters, digits, `.`
  /// and `_` become `_`).
  public static let host: String = {
    var buffer = [CChar](repeating: 0, count: 256)
    let name = gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : "localhost"
    return String(name.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" ? $0 : "_" })
  }()

  /// The staging path of `target` for this process.
  public static func url(for target: URL) -> URL {
    target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).tmp-\(host)-\(getpid())")
  }

  /// Removes the staging copies of `target` left by processes of this host that have ended (also
  /// the older `.NAME.tmp-PID` form) and returns their names.
  @discardableResult
  public static func removeStale(for target: URL) -> [String] {
    let parent = target.deletingLastPathComponent()
    let prefix = ".\(target.lastPathComponent).tmp-"
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
    var removed: [String] = []
    for entry in entries where entry.hasPrefix(prefix) {
      let owner = entry.dropFirst(prefix.count)
      let (entryHost, pidText): (Substring, Substring)
      if let dash = owner.lastIndex(of: "-") {
        (entryHost, pidText) = (owner[..<dash], owner[owner.index(after: dash)...])
      } else {
        (entryHost, pidText) = (Substring(host), owner)
      }
      guard entryHost == host, let pid = Int32(pidText), pid > 0, pid != getpid(), !isRunning(pid) else { continue }
      if (try? FileManager.default.removeItem(at: parent.appendingPathComponent(entry))) != nil { removed.append(entry) }
    }
    return removed.sorted()
  }

  /// True while process `pid` exists on this host (a zombie counts: it is not reaped yet).
  static func isRunning(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
  }
}
