// What happens to a result that the current plan or the current weights no longer produce: a finished
// variant whose plan was edited, or an evaluation whose weights changed after it was measured. Such a
// result is never reused and never overwritten in place: it moves to a `superseded/` folder beside it,
// where it stays addressable, and the run says what changed (`StudyEvent.superseded`).
import Foundation
import Training

/// A result set aside because what produced it changed.
public struct Supersession: Sendable {
  /// What the result was, e.g. "two-stage (MaskDM), seed 1".
  public var subject: String
  /// What changed, e.g. "pretrain: 2156 → 3000 steps".
  public var changes: [String]
  /// Where the old result is kept.
  public var keptAt: URL
}

extension StudyDirectory {
  /// Moves the result at `url` into `superseded/` beside it, its name tagged with what it was computed
  /// from (`tag`), and returns the new place; an earlier file of the same name there is replaced.
  func setAside(_ url: URL, tag: String) throws -> URL {
    let folder = url.deletingLastPathComponent().appendingPathComponent("superseded")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let name = url.deletingPathExtension().lastPathComponent + "-\(fileName(tag)).\(url.pathExtension)"
    let target = folder.appendingPathComponent(name)
    try? FileManager.default.removeItem(at: target)
    try FileManager.default.moveItem(at: url, to: target)
    return target
  }
}

/// What differs between the stages a recorded result trained and those of the variant that replaces it,
/// stage by stage (by name); the protocol or a setting that no stage list shows when the stages agree.
func changes(from old: VariantResult, to variant: Variant) -> [String] {
  var found: [String] = []
  for stage in variant.stages {
    guard let before = old.stages.first(where: { $0.name == stage.name }) else {
      found.append("stage \(stage.name) added")
      continue
    }
    if before.run.steps != stage.config.trainSteps {
      found.append("\(stage.name): \(before.run.steps) → \(stage.config.trainSteps) steps")
    } else if before.id != stage.id {
      found.append("\(stage.name): its settings (identity \(before.id) → \(stage.id))")
    }
  }
  for before in old.stages where !variant.stages.contains(where: { $0.name == before.name }) {
    found.append("stage \(before.name) removed")
  }
  return found.isEmpty ? ["its evaluation protocol"] : found
}

/// The SHA-256 of the weights file an evaluation measures, so that a cached evaluation is reused only
/// for the weights it measured (a stage trained again, or a file replaced, is evaluated again).
func weightsChecksum(_ job: SamplingJob) throws -> String {
  guard let checksum = sha256Hex(fileAt: job.weights) else {
    throw StudyError("cannot read the weights \(job.weights.path) to evaluate them: the run directory is damaged; "
                      + "remove it to train the stage again")
  }
  return checksum
}
