// What produced a run: the code, the libraries, the machine and the job it ran in. Every run's
// summary.json carries it, and a study's result per stage, so that a number measured on a cluster
// can be traced back to the commit, the kernels and the process layout that measured it.
import Engine
import Foundation

/// The code version, libraries, machine and job layout of one training run.
public struct Provenance: Codable, Sendable, Equatable {
  /// The project's git commit (40 hex digits), or "unknown" when the binary is not inside a git
  /// checkout (built from an export, copied elsewhere) or git cannot read it.
  public var commit: String
  /// Whether tracked files differed from `commit` (nil when the commit is unknown).
  public var dirty: Bool?
  /// The release version, for a binary built from a release (nil otherwise).
  public var release: String?
  /// MLX's version.
  public var mlxVersion: String
  /// The host name of the machine (rank 0's, in a data-parallel job).
  public var host: String
  /// The CPU model, from /proc/cpuinfo.
  public var cpu: String
  /// The device the run trained on: cpu or gpu.
  public var device: String
  /// Who multiplies the CPU's float32 matrices (our own kernels or the BLAS, see `Engine.cpuMatrixProduct`);
  /// on the GPU, MLX's own.
  public var kernels: String
  /// Processes of the data-parallel job (1 for a process alone).
  public var processes: Int
  /// MLX's communication backend (ring, mpi, nccl), or "none" for a process alone.
  public var backend: String

  /// The provenance of a run on `device` in `group` (nil: this process alone).
  public static func current(device: Device, group: DistributedGroup?) -> Provenance {
    let code = SourceVersion.current
    return Provenance(
      commit: code.commit, dirty: code.dirty, release: SourceVersion.release, mlxVersion: Engine.mlxVersion,
      host: ProcessInfo.processInfo.hostName, cpu: cpuModel(), device: device.rawValue,
      kernels: device == .cpu ? Engine.cpuMatrixProduct : "MLX (GPU)", processes: group?.size ?? 1,
      backend: (group?.size ?? 1) > 1 ? group?.backend ?? "none" : "none")
  }

  /// One line for logs and reports.
  public var summary: String {
    let version = release ?? (commit == "unknown" ? "unknown commit" : String(commit.prefix(12)) + (dirty == true ? " (dirty)" : ""))
    return "\(version), MLX \(mlxVersion), \(host), \(device) (\(kernels)), \(processes) process\(processes == 1 ? "" : "es")"
      + (backend == "none" ? "" : " on \(backend)")
  }
}

func cpuModel() -> String {
  let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
  return cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
    .flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
}

/// The git commit of the checkout this binary was built in, read once per process.
///
/// SwiftPM builds into `<checkout>/.build/<configuration>/`, so the checkout is the nearest folder
/// above the executable with a `Package.swift` and a `.git`. What is recorded is that checkout's
/// `HEAD` and whether its tracked files differ from it, when the process starts: a binary rebuilt
/// after every change (as `make` does) reports the code it runs. No path is recorded.
enum SourceVersion {
  /// Set for a release build; a checkout leaves it nil and records its commit.
  static let release: String? = nil

  static let current: (commit: String, dirty: Bool?) = {
    guard let root = checkout(), let head = git(["rev-parse", "--verify", "HEAD"], in: root),
          head.count == 40, head.allSatisfy(\.isHexDigit) else { return ("unknown", nil) }
    let status = git(["status", "--porcelain", "--untracked-files=no"], in: root)
    return (head, status.map { !$0.isEmpty })
  }()

  private static func checkout() -> URL? {
    guard let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() else { return nil }
    var dir = exe.deletingLastPathComponent()
    let fm = FileManager.default
    while dir.path != "/" {
      if fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path),
         fm.fileExists(atPath: dir.appendingPathComponent(".git").path) { return dir }
      dir = dir.deletingLastPathComponent()
    }
    return nil
  }

  /// git's trimmed output, or nil when git is missing or fails.
  private static func git(_ args: [String], in dir: URL) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["git", "-C", dir.path] + args
    var env = ProcessInfo.processInfo.environment
    env["GIT_OPTIONAL_LOCKS"] = "0"  // a status must not take the index lock from a user's git
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
