// Turns study events into progress lines: which variant and stage run, training progress (through
// ProgressPrinter), reference and sampling progress, and each variant's outcome.
import Foundation
import Studies

final class StudyPrinter {
  private var training = ProgressPrinter(label: "")
  private let progress = ProgressPrinter(label: "")

  func handle(_ event: StudyEvent) {
    switch event {
    case let .calibrating(setting, nil):
      note("calibrating the time budget of \(setting): timing a short run")
    case let .calibrating(_, entry?):
      note(String(format: "  %.2f steps/s", entry.stepsPerSecond))
    case let .variantStarted(v, i, n):
      note("[\(i)/\(n)] \(v.name), seed \(v.seed): " + v.stages.map { "\($0.name) \($0.config.trainSteps) steps" }.joined(separator: " -> "))
    case let .variantReused(r):
      note("\(r.name), seed \(r.seed.map(String.init) ?? "?"): finished earlier (FID \(r.fid.map { String(format: "%.2f", $0) } ?? "-")), kept")
    case let .stageStarted(s, _, resuming):
      training = ProgressPrinter(label: s.directoryName)
      note("  stage \(s.name) (\(s.directoryName)) \(resuming ? "resumes" : "starts")")
    case let .stageReused(s, _):
      note("  stage \(s.name) (\(s.directoryName)) finished earlier, reused")
    case let .waiting(s):
      note("  stage \(s.name) is being trained by another process; waiting for it")
    case let .training(e):
      training.handle(e)
      if case .finished = e { training.finish() }
    case let .referenceProgress(done, total, rate):
      progress.status(String(format: "  reference statistics: %d/%d real images (%.1f img/s)", done, total, rate), done: done == total)
    case let .sampling(done, total):
      progress.status("  sampling and Inception features: \(done)/\(total) images", done: done == total)
    case let .pointEvaluated(stage, point, i, n, reused):
      note(String(format: "  along %@ [%d/%d] step %d: FID %.2f (%d samples)%@", stage.name, i, n, point.step, point.fid, point.samples,
                  reused ? ", measured earlier" : ""))
    case let .variantFinished(r):
      note(String(format: "  done: FID %.2f (%d samples), KID %@, %.0f s of training", r.fid ?? .nan, r.fidSamples ?? 0,
                  r.kidMean.map { String(format: "%.4f", $0) } ?? "-", r.trainingSeconds))
    case let .variantFailed(r):
      note("  FAILED: \(r.error ?? "unknown error") (recorded; the other variants go on)")
    case let .superseded(s):
      note("\(s.subject): \(s.changes.joined(separator: "; ")); the old result is kept in \(s.keptAt.path), computing it again")
    case .reportWritten:
      break
    }
  }

  func finish() { training.finish() }

  private func note(_ text: String) {
    training.finish()
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }
}
