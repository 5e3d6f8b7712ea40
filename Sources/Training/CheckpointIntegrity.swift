// Trusting a checkpoint: its state.json records the SHA-256 of each tensor file when it is written;
// before a checkpoint is resumed, fine-tuned from or sampled, every file is read back and compared.
// A damaged newest checkpoint is passed over for the newest intact one (and moved aside, never
// deleted, when a run resumes); when none is intact the error names every damaged file.
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint whose files do not match the checksums its state.json records (or are missing).
public struct CheckpointDamage: Error, CustomStringConvertible, Equatable {
  /// The checkpoint directory.
  public let checkpoint: URL
  /// One line per damaged file, naming it and what is wrong.
  public let problems: [String]

  public var description: String {
    "the checkpoint \(checkpoint.path) is damaged: \(problems.joined(separator: "; "))"
  }

  /// The error when every checkpoint of `run` is damaged: each file named, and what to do.
  static func noneIntact(_ damaged: [CheckpointDamage], in run: RunDirectory, forInitialisation: Bool = false) -> ConfigError {
    let what = damaged.map { "\($0.checkpoint.lastPathComponent): \($0.problems.joined(separator: ", "))" }.joined(separator: "; ")
    let fix = forInitialisation
      ? "restore the files from a backup, or initialise from another run or .safetensors file you trust"
      : "restore the files from a backup, or start again in a new --out directory (with --init-from, from a weights file you trust)"
    return ConfigError("no intact checkpoint is left in \(run.checkpoints.path), nothing was changed: \(what). To go on, \(fix)")
  }
}

/// A checkpoint directory that passed its checks, with its state.
public struct VerifiedCheckpoint {
  public let directory: URL
  public let state: RunProgress
}

extension Checkpoint {
  /// Checks the files of the checkpoint in `directory` against the checksums in its state.json and
  /// returns that state; throws `CheckpointDamage` naming every missing or mismatching file. A
  /// checkpoint of format 1 (written before checksums were recorded) is read without the check.
  public static func verify(_ directory: URL) throws -> RunProgress {
    let stateURL = directory.appendingPathComponent("state.json")
    guard let data = try? Data(contentsOf: stateURL) else {
      throw CheckpointDamage(checkpoint: directory, problems: ["state.json is missing"])
    }
    let state: RunProgress
    do { state = try JSONDecoder().decode(RunProgress.self, from: data) } catch {
      throw CheckpointDamage(checkpoint: directory, problems: ["state.json is not a valid checkpoint state (\(error))"])
    }
    var problems: [String] = []
    if state.format >= 2, state.checksums == nil { problems.append("state.json records no checksums") }
    for file in tensorFiles {
      let url = directory.appendingPathComponent(file)
      guard let actual = sha256Hex(fileAt: url) else {
        problems.append("\(file) is missing")
        continue
      }
      guard let sums = state.checksums else { continue }
      guard let expected = sums[file] else {
        problems.append("state.json records no checksum of \(file)")
        continue
      }
      if actual != expected {
        problems.append("\(file) does not match the SHA-256 that state.json records (\(actual.prefix(12))… instead of \(expected.prefix(12))…)")
      }
    }
    guard problems.isEmpty else { throw CheckpointDamage(checkpoint: directory, problems: problems) }
    return state
  }
}

/// The tensors of a `.safetensors` file; when it is one of a checkpoint's files (a state.json beside
/// it records its checksum), the checksum is checked first.
public func loadVerifiedTensors(_ url: URL) throws -> Parameters {
  let directory = url.deletingLastPathComponent()
  let stateURL = directory.appendingPathComponent("state.json")
  if let data = try? Data(contentsOf: stateURL), let state = try? JSONDecoder().decode(RunProgress.self, from: data),
     let expected = state.checksums?[url.lastPathComponent] {
    let actual = sha256Hex(fileAt: url)
    guard actual == expected else {
      throw CheckpointDamage(checkpoint: directory, problems: [
        "\(url.lastPathComponent) does not match the SHA-256 that state.json records (\(actual?.prefix(12) ?? "unreadable")… instead of \(expected.prefix(12))…)",
      ])
    }
  }
  return try SafetensorsFile.load(url).tensors
}

extension RunDirectory {
  /// The checkpoint directories (`checkpoints/step-N`), newest (highest step) first.
  public var checkpointsNewestFirst: [URL] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
    return names.compactMap { name -> (Int, URL)? in
      guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)) else { return nil }
      return (step, checkpoints.appendingPathComponent(name))
    }.sorted { $0.0 > $1.0 }.map(\.1)
  }

  /// True when the run has written a checkpoint (intact or not).
  public var hasCheckpoint: Bool { latestCheckpoint != nil || !checkpointsNewestFirst.isEmpty }

  /// The newest checkpoint whose files match their checksums, and the newer ones that do not.
  public func newestIntactCheckpoint() -> (intact: VerifiedCheckpoint?, damaged: [CheckpointDamage]) {
    var damaged: [CheckpointDamage] = []
    for directory in checkpointsNewestFirst {
      do {
        return (VerifiedCheckpoint(directory: directory, state: try Checkpoint.verify(directory)), damaged)
      } catch let damage as CheckpointDamage {
        damaged.append(damage)
      } catch {
        damaged.append(CheckpointDamage(checkpoint: directory, problems: ["\(error)"]))
      }
    }
    return (nil, damaged)
  }

  /// Renames `checkpoints/step-N` to `checkpoints/<prefix>-step-N` (kept for inspection, out of
  /// the way of resuming and of the pruning of old checkpoints) and returns the new name.
  @discardableResult
  func moveAside(_ checkpoint: URL, prefix: String) throws -> String {
    var name = "\(prefix)-\(checkpoint.lastPathComponent)"
    var copy = 1
    while FileManager.default.fileExists(atPath: checkpoints.appendingPathComponent(name).path) {
      copy += 1
      name = "\(prefix)-\(checkpoint.lastPathComponent).\(copy)"
    }
    let target = checkpoints.appendingPathComponent(name)
    guard rename(checkpoint.path, target.path) == 0 else {
      throw FileSystemError("cannot move \(checkpoint.path) aside to \(target.path): \(String(cString: strerror(errno)))")
    }
    fsyncDirectory(checkpoints)
    return name
  }

  /// Points `latest` at `checkpoint`, or removes it when there is none.
  func repointLatest(at checkpoint: URL?) throws {
    if let checkpoint { try pointLatest(at: checkpoint) } else {
      unlink(latest.path)
      fsyncDirectory(url)
    }
  }
}
