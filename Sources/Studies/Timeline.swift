// FID along training: each variant is evaluated at regular points of its training timeline (the EMA
// weights the trainer keeps as snapshots); DSM only's curves turn a variant's quality into time (`SpeedUp.swift`).
// Time on the x axis is training-step time: a point at step s of a stage that trained S steps in T
// seconds sits at s·T/S after the stages before it. T is the stage's calibrated budget when it has one
// (`compare: time`: its steps are what that budget buys at the calibrated rate, the time the study
// compares at), else its measured training-step seconds. The measured time is kept beside it: on a
// busy machine it can be several times the budget, and unevenly so between variants run at different
// moments, which would make a ratio of times measure the load rather than the training.
import Foundation
import Training

/// How often a variant is evaluated along its training (`evaluation.along`).
public struct TimelineSpec: Equatable, Sendable {
  /// The spacing of the points.
  public enum Interval: Equatable, Sendable, CustomStringConvertible {
    case steps(Int)
    /// Seconds of training; with `compare: time`, turned into each stage's steps by its calibrated rate.
    case seconds(Double)

    public var description: String {
      switch self {
      case let .steps(n): return "\(n) steps"
      case let .seconds(s): return "\(gFormat(s)) s"
      }
    }
  }

  public var every: Interval
  /// Generated images per point (fewer than the final evaluation's: points are many).
  public var samples: Int

  /// How many points a stage of `steps` steps or `budgetSeconds` seconds gets (its last step included).
  func points(steps: Int, budgetSeconds: Double?) -> Int {
    switch every {
    case let .steps(n): return (steps + n - 1) / n
    case let .seconds(s): return budgetSeconds.map { max(1, Int(($0 / s).rounded())) } ?? 1
    }
  }

  /// The snapshot spacing of a stage that trains `steps` steps for `budgetSeconds` (nil: not known
  /// before calibration). Every stage also keeps its last step. A spacing in seconds becomes the
  /// stage's nearest whole number of equal parts (at least one), so that the last part is not a sliver:
  /// 30 s every 10 s over 217 steps keeps steps 73, 146 and 217.
  func snapshotEvery(steps: Int, budgetSeconds: Double?) -> Int? {
    switch every {
    case let .steps(n): return n
    case let .seconds(s):
      guard let budget = budgetSeconds, budget > 0, steps > 0 else { return nil }
      let parts = max(1, Int((budget / s).rounded()))
      return max(1, Int((Double(steps) / Double(parts)).rounded(.up)))
    }
  }
}

/// One evaluation of a stage's snapshot.
public struct TimelinePoint: Codable, Equatable, Sendable {
  public var step: Int
  public var fid: Double
  public var kidMean: Double?
  public var precision: Double?
  public var recall: Double?
  public var samples: Int
  /// Where the point's evaluation time went (nil in points measured before it was recorded).
  public var time: EvaluationSeconds? = nil
  /// SHA-256 of the snapshot measured (see `EvaluationResult.weights`).
  public var weights: String? = nil
}

/// A point of a variant's curve: its stages in sequence, on the variant's training-time axis.
public struct CurvePoint: Codable, Equatable, Sendable {
  public var stage: String
  public var step: Int
  /// Training-step seconds from the variant's start (see the file comment).
  public var trainingSeconds: Double
  /// The same from the measured training-step time.
  public var measuredSeconds: Double
  public var deviceSeconds: Double
  public var fid: Double
  public var kidMean: Double?
  public var precision: Double?
  public var recall: Double?
}

/// A stage's seconds on the curves' time axis: its calibrated budget, else its measured time.
func timelineSeconds(_ stage: StageResult) -> Double { stage.budgetSeconds ?? stage.run.trainSeconds }

/// The points of one variant's stages as one curve (stages in sequence); `continued`: with the last
/// stage's continuation beyond its budget (the speed-up reference), on the same seconds per step.
func timelineCurve(of stages: [StageResult], continued: Bool = false) -> [CurvePoint] {
  var out: [CurvePoint] = []
  var (elapsed, measured, device) = (0.0, 0.0, 0.0)
  for (i, stage) in stages.enumerated() {
    func at(_ step: Int, _ seconds: Double) -> Double { stage.run.steps > 0 ? Double(step) * seconds / Double(stage.run.steps) : 0 }
    let later = continued && i == stages.count - 1 ? stage.continuation ?? [] : []
    for p in (stage.timeline ?? []) + later {
      out.append(CurvePoint(stage: stage.name, step: p.step, trainingSeconds: elapsed + at(p.step, timelineSeconds(stage)),
                            measuredSeconds: measured + at(p.step, stage.run.trainSeconds), deviceSeconds: device + at(p.step, stage.run.deviceSeconds),
                            fid: p.fid, kidMean: p.kidMean, precision: p.precision, recall: p.recall))
    }
    elapsed += timelineSeconds(stage)
    measured += stage.run.trainSeconds
    device += stage.run.deviceSeconds
  }
  return out
}
