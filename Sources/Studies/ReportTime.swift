// Where a study's time went: training steps, the rest of the training runs (data, checkpoints,
// compilation), and the evaluations' sampling, Inception features and metrics. A study on a CPU spends
// about half its time evaluating, so this is the figure that says what to make faster.
import Foundation

/// The seconds of a study's finished stages by part, each stage once (shared stages are trained once).
struct StudyTime: Equatable {
  var trainingSteps = 0.0
  /// A run's wall time outside its training steps: data, checkpoints, snapshots, the first step's compilation.
  var trainingOther = 0.0
  var sampling = 0.0
  var features = 0.0
  var statistics = 0.0
  /// Evaluations measured, and those recorded before their time was (not in the sums).
  var evaluations = 0
  var untimedEvaluations = 0

  init(results: [VariantResult]) {
    var seen = Set<String>()
    for stage in results.filter(\.finished).flatMap(\.stages) where seen.insert(stage.id).inserted {
      trainingSteps += stage.run.trainSeconds
      trainingOther += max(0, stage.run.wallSeconds - stage.run.trainSeconds)
      let points = (stage.timeline ?? []) + (stage.continuation ?? [])
      for time in (stage.evaluation.map { [$0.time] } ?? []) + points.map(\.time) {
        evaluations += 1
        guard let time else { untimedEvaluations += 1; continue }
        (sampling, features, statistics) = (sampling + time.sampling, features + time.features, statistics + time.statistics)
      }
    }
  }

  var total: Double { trainingSteps + trainingOther + sampling + features + statistics }

  /// The parts as rows of seconds and shares of the total.
  var table: ReportTable {
    let parts = [("training steps", trainingSteps), ("training runs outside the steps (data, checkpoints, compilation)", trainingOther),
                 ("sampling (\(evaluations) evaluations)", sampling), ("Inception features", features),
                 ("FID, KID, precision/recall and floors", statistics)]
    let total = max(self.total, 1e-9)
    return ReportTable(header: ["part", "time", "share"],
                       rows: parts.map { [$0.0, seconds($0.1), formatted(100 * $0.1 / total, digits: 0) + "%"] }
                         + [["total", seconds(self.total), "100%"]])
  }

  /// What the table leaves out.
  var caveat: String {
    "Summed over the stages trained (a shared stage once) and their evaluations, final and along training; the reference "
      + "statistics (computed once per study) and the time between runs are not in it"
      + (untimedEvaluations > 0 ? "; \(untimedEvaluations) of the \(evaluations) evaluations were measured before their time was recorded and are left out" : "")
      + "."
  }
}

extension StudyReport {
  /// "Where the time went", when a variant has finished.
  var studyTime: StudyTime? {
    let time = StudyTime(results: results)
    return time.total > 0 ? time : nil
  }
}
