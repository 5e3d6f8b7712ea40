// What a training run reports while it runs. The CLI turns these into a progress bar and the study
// runner records them; the trainer itself never prints.
import Foundation

/// One logged training step.
public struct StepReport: Sendable {
  public var step: Int
  public var totalSteps: Int
  public var loss: Double
  public var learningRate: Double
  public var imagesPerSecond: Double
  /// Training seconds so far (across resumes).
  public var trainSeconds: Double
  /// Estimated seconds to the end (by steps or by the time budget, whichever ends first).
  public var etaSeconds: Double?
  /// The run's time budget (`train_seconds`), when it has one.
  public var budgetSeconds: Double? = nil
  /// The global norm of this step's gradients, before clipping.
  public var gradNorm: Double? = nil
  /// Mean seconds per training step since the previous logged step (nil when none was timed: the warm-up step).
  public var stepSeconds: Double? = nil
}

/// The outcome of a finished run.
public struct RunSummary: Codable, Sendable, Equatable {
  public var steps: Int
  public var finalLoss: Double?
  public var trainSeconds: Double
  public var deviceSeconds: Double
  public var wallSeconds: Double
  public var imagesPerSecond: Double
  /// Seconds of first steps (trace and kernel compilation), not in trainSeconds.
  public var warmupSeconds: Double?
  public var peakMemoryBytes: Int
  public var device: String
  public var runDirectory: String
  public var lossCurve: [[Double]]
  /// The code, libraries, machine and job that produced the run (nil in summaries written before it was recorded).
  public var provenance: Provenance? = nil

  public init(steps: Int, finalLoss: Double?, trainSeconds: Double, deviceSeconds: Double, wallSeconds: Double, imagesPerSecond: Double,
              warmupSeconds: Double? = nil, peakMemoryBytes: Int, device: String, runDirectory: String, lossCurve: [[Double]],
              provenance: Provenance? = nil) {
    (self.steps, self.finalLoss, self.trainSeconds, self.deviceSeconds, self.wallSeconds) = (steps, finalLoss, trainSeconds, deviceSeconds, wallSeconds)
    (self.imagesPerSecond, self.warmupSeconds, self.peakMemoryBytes, self.device) = (imagesPerSecond, warmupSeconds, peakMemoryBytes, device)
    (self.runDirectory, self.lossCurve, self.provenance) = (runDirectory, lossCurve, provenance)
  }
}

/// Typed events of a training run.
public enum TrainingEvent: Sendable {
  /// Preparing (packing) the dataset before the first step.
  case preparingData(done: Int, total: Int)
  /// Something the user should know that is not an error (a dataset cache packed again).
  case notice(String)
  /// The run started or resumed.
  case started(step: Int, totalSteps: Int, resumed: Bool, parameters: Int, device: String, runDirectory: URL)
  /// Weights were loaded to initialise the model; names the loader did not match are listed.
  case initialized(from: URL, missing: [String], unexpected: [String])
  case step(StepReport)
  case checkpoint(step: Int, url: URL)
  case sample(step: Int, url: URL)
  case finished(RunSummary)
}

/// Failures of a training run that are not configuration mistakes.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
  /// The loss became NaN or infinite, or exceeded `divergenceLossLimit`, at `step`. `lastGood` is
  /// the newest checkpoint from before the divergence (now `latest`), nil when there is none;
  /// `movedAside` lists the checkpoints trained into it, moved out of the way.
  case diverged(step: Int, loss: Double, lastGood: Int?, runDirectory: String, learningRate: Double, movedAside: [String])

  public var description: String {
    switch self {
    case let .diverged(step, loss, lastGood, dir, lr, moved):
      let what = loss.isFinite
        ? String(format: "the loss diverged at step %d: %.3g, above %g (a model that predicts zeros has a loss of about 1)", step, loss, divergenceLossLimit)
        : "the loss became \(loss.isNaN ? "NaN" : "infinite") at step \(step)"
      let aside = moved.isEmpty ? "" : " (\(moved.joined(separator: ", ")), trained into the divergence, moved aside)"
      let (lower, current) = (lowerLearningRate(lr), String(format: "%g", lr))
      guard let lastGood else {
        return "\(what). No checkpoint from before the divergence exists\(aside), so there is nothing to resume: run the "
          + "command again without --resume, with a lower learning rate (--set lr=\(lower), a tenth of \(current)), "
          + "or with clip_grad (e.g. --set clip_grad=1.0) or warmup_steps (e.g. --set warmup_steps=1000)."
      }
      return "\(what). The checkpoint of step \(lastGood), from before the divergence, is \(dir)/latest\(aside). Continue "
        + "from it with a lower learning rate: add --resume --set lr=\(lower) (a tenth of \(current)) to the command; "
        + "clip_grad (e.g. 1.0) and warmup_steps may also change on --resume."
    }
  }
}
