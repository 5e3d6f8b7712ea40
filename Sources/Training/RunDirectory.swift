// A run directory explains itself and survives a killed process:
//
//   RUN/config.yaml            the resolved configuration
//   RUN/metrics.jsonl          one JSON object per logged step / checkpoint / sample / evaluation
//   RUN/samples/step-N.png     sample grids
//   RUN/tb/events.out.tfevents.*   the same curves and grids for TensorBoard (one file per process start)
//   RUN/checkpoints/step-N/    model.safetensors, ema.safetensors, optimizer.safetensors, state.json
//                              (with the SHA-256 of the three others)
//   RUN/checkpoints/damaged-step-N/, diverged-step-N/   checkpoints moved aside, kept for inspection
//   RUN/latest -> checkpoints/step-N   the newest complete checkpoint (replaced atomically)
//   RUN/snapshots/step-N.safetensors   EMA weights kept at fixed steps (`snapshot_every`), never pruned
//   RUN/.lock                  held (flock) by the one process training in this directory
//
// A checkpoint is written into a temporary directory, every file fsync'd, then renamed into place;
// `latest` is a symlink replaced by rename(2), so it always points at a complete checkpoint.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files of one training run.
public struct RunDirectory: Sendable {
  public let url: URL
  public init(_ url: URL) { self.url = url.standardizedFileURL }

  public var config: URL { url.appendingPathComponent("config.yaml") }
  public var metrics: URL { url.appendingPathComponent("metrics.jsonl") }
  public var samples: URL { url.appendingPathComponent("samples") }
  public var checkpoints: URL { url.appendingPathComponent("checkpoints") }
  public var latest: URL { url.appendingPathComponent("latest") }
  public var summary: URL { url.appendingPathComponent("summary.json") }
  public var snapshots: URL { url.appendingPathComponent("snapshots") }
  /// The EMA weights kept at `step`.
  public func snapshot(step: Int) -> URL { snapshots.appendingPathComponent(String(format: "step-%08d.safetensors", step)) }
  /// The steps whose snapshot is on disk, in order.
  public var snapshotSteps: [Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: snapshots.path)) ?? []
    return names.compactMap { name -> Int? in
      guard name.hasPrefix("step-"), name.hasSuffix(".safetensors") else { return nil }
      return Int(name.dropFirst(5).dropLast(12))
    }.sorted()
  }
  var lockFile: URL { url.appendingPathComponent(".lock") }

  /// The newest complete checkpoint, if any: the newest `checkpoints/step-N` (a process killed after
  /// moving it into place and before pointing `latest` at it leaves `latest` one behind), else what
  /// `latest` points at.
  public var latestCheckpoint: URL? {
    let fm = FileManager.default
    if let newest = checkpointsNewestFirst.first(where: { fm.fileExists(atPath: $0.appendingPathComponent("state.json").path) }) {
      return newest
    }
    let state = latest.appendingPathComponent("state.json")
    return fm.fileExists(atPath: state.path) ? latest.resolvingSymlinksInPath() : nil
  }

  /// Creates the directory tree.
  public func create() throws {
    for dir in [url, samples, checkpoints] {
      do {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      } catch {
        throw ConfigError("cannot create the run directory \(dir.path): \(error.localizedDescription)")
      }
    }
  }

  /// Creates the directory and takes its lock (see `lock()`).
  public func lockCreating() throws -> RunLock {
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return try lock()
  }

  /// Takes the directory's lock for this process; a second process is refused, not let in.
  public func lock() throws -> RunLock {
    let fd = open(lockFile.path, O_RDWR | O_CREAT, 0o644)
    guard fd >= 0 else { throw ConfigError("cannot open \(lockFile.path): \(String(cString: strerror(errno)))") }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let owner = (try? String(contentsOf: lockFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
      close(fd)
      throw ConfigError(
        "the run directory \(url.path) is in use by another maskdm process (pid \(owner)); wait for it to "
          + "finish or stop it, or choose another --out directory")
    }
    ftruncate(fd, 0)
    let pid = "\(getpid())\n"
    _ = pid.withCString { write(fd, $0, strlen($0)) }
    return RunLock(fd: fd)
  }

  /// True while another process holds this directory's lock (a run in progress elsewhere).
  public var isLockedByAnotherProcess: Bool {
    let fd = open(lockFile.path, O_RDWR)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return true }
    flock(fd, LOCK_UN)
    return false
  }

  /// Replaces `latest` with a link to `checkpoint` in one rename.
  func pointLatest(at checkpoint: URL) throws {
    let tmp = url.appendingPathComponent(".latest.tmp")
    unlink(tmp.path)
    let target = "checkpoints/\(checkpoint.lastPathComponent)"
    guard symlink(target, tmp.path) == 0, rename(tmp.path, latest.path) == 0 else {
      throw ConfigError("cannot update \(latest.path): \(String(cString: strerror(errno)))")
    }
    fsyncDirectory(url)
  }

  /// Appends one row to metrics.jsonl.
  public func appendMetrics(_ event: MetricsEvent) throws {
    var data = try Self.metricsEncoder.encode(event)
    data.append(0x0a)
    if let handle = try? FileHandle(forWritingTo: metrics) {
      defer { try? handle.close() }
      try handle.seekToEnd()
      try handle.write(contentsOf: data)
    } else {
      try data.write(to: metrics)
    }
  }

  static let metricsEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return e
  }()

  /// Keeps the rows of metrics.jsonl up to `step`: a run resumed from the checkpoint of `step` (0: a
  /// fresh start) redoes what came after it, so the rows a stopped process wrote after it go, and
  /// so does a line it left half-written.
  public func truncateMetrics(after step: Int) throws {
    guard let data = try? Data(contentsOf: metrics) else { return }
    var kept = Data()
    for line in data.split(separator: 0x0a, omittingEmptySubsequences: true) {
      guard let row = try? JSONDecoder().decode(MetricsEvent.self, from: Data(line)), row.step <= step else { continue }
      kept.append(contentsOf: line)
      kept.append(0x0a)
    }
    if kept != data { try writeAtomically(kept, to: metrics) }
  }

  /// The rows of metrics.jsonl (a line that is not a row, such as one a killed process left half-written, is skipped).
  public func readMetrics() -> [MetricsEvent] {
    guard let text = try? String(contentsOf: metrics, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(MetricsEvent.self, from: Data($0.utf8)) }
  }

  /// The run's summary, written when it reached its budget (nil before, or when it cannot be read).
  public func readSummary() -> RunSummary? {
    guard let data = try? Data(contentsOf: summary) else { return nil }
    return try? JSONDecoder().decode(RunSummary.self, from: data)
  }

  /// The configuration the run trains with (its config.yaml).
  public func configuration() throws -> TrainConfig { try TrainConfig(contentsOf: config) }
}

/// The held lock of a run directory; released when the process ends or `release()` is called.
public final class RunLock {
  private var fd: Int32
  init(fd: Int32) { self.fd = fd }
  public func release() {
    if fd >= 0 {
      flock(fd, LOCK_UN)
      close(fd)
      fd = -1
    }
  }
  deinit { release() }
}
