// Outputs never overwrite what the tool did not write. Every command that writes where the user
// points it (`train -o`, `study run/report --out`, `study import -o`, `sample --out`, `fid stats -o`)
// checks the target first: new, empty, or the tool's own earlier output of the same kind (recognised
// by what that output always holds); anything else is refused with an error naming it and the fix.
import Foundation

public enum OutputTarget {
  /// Refuses `url` when it is a file, or a folder that holds entries and is not this tool's `kind` of
  /// output: one that holds none of `markers` (the names such an output always has), or, when
  /// `onlyOurs` is given, an entry it does not accept.
  public static func checkDirectory(_ url: URL, flag: String, kind: String, markers: Set<String> = [],
                                    onlyOurs: ((String) -> Bool)? = nil) throws {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
    guard isDirectory.boolValue else {
      throw ConfigError("\(flag) \(url.path) is a file; it must name a folder for the \(kind) (a new or empty one)")
    }
    let entries = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).filter { !$0.hasPrefix(".") || markers.contains($0) }
    guard !entries.isEmpty else { return }
    if let onlyOurs {
      let foreign = entries.filter { !onlyOurs($0) }.sorted()
      guard foreign.isEmpty else { throw refusal(url, flag, kind, foreign) }
      return
    }
    guard entries.contains(where: markers.contains) else { throw refusal(url, flag, kind, entries.sorted()) }
  }

  static func refusal(_ url: URL, _ flag: String, _ kind: String, _ entries: [String]) -> ConfigError {
    let shown = entries.prefix(3).joined(separator: ", ") + (entries.count > 3 ? ", …" : "")
    return ConfigError("\(flag) \(url.path) holds files this tool did not write (\(shown)); nothing was changed. "
                         + "Name a new or empty folder for the \(kind), or one that holds an earlier \(kind) of this tool")
  }

  /// Refuses `url` when it is a folder, or an existing file that `isOurs` does not recognise as this
  /// tool's `kind` of output, or the same file as any of `inputs` (an output may not replace its input).
  public static func checkFile(_ url: URL, flag: String, kind: String, inputs: [URL] = [], isOurs: (URL) -> Bool) throws {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
    if isDirectory.boolValue {
      throw ConfigError("\(flag) \(url.path) is a folder; give the \(kind) file to write, e.g. \(flag) \(url.appendingPathComponent("out").path)")
    }
    if let input = inputs.first(where: { sameFile($0, url) }) {
      throw ConfigError("\(flag) \(url.path) is the input \(input.path) itself; write the \(kind) to another file")
    }
    guard isOurs(url) else {
      throw ConfigError("\(flag) \(url.path) exists and is not a \(kind) this tool wrote; nothing was changed. Name a new file, "
                          + "or move that one away first")
    }
  }

  /// True when `a` and `b` are one file (the same device and inode), however they are spelled.
  public static func sameFile(_ a: URL, _ b: URL) -> Bool {
    var sa = stat(), sb = stat()
    guard stat(a.path, &sa) == 0, stat(b.path, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
  }

  /// The first `bytes` of a file as text (to recognise a header this tool writes).
  public static func prefix(of url: URL, bytes: Int = 4096) -> String {
    guard let h = FileHandle(forReadingAtPath: url.path) else { return "" }
    defer { try? h.close() }
    return String(decoding: h.readData(ofLength: bytes), as: UTF8.self)
  }
}

extension RunDirectory {
  /// Refuses a directory that is not a run directory of this tool and holds something: `train -o .`
  /// in a folder with the user's `config.yaml` would replace it with the resolved configuration. A run
  /// directory always has `checkpoints/` (created before anything is written).
  public func checkOwnership() throws {
    try OutputTarget.checkDirectory(url, flag: "-o", kind: "run directory", markers: ["checkpoints"])
  }
}
