// Stopping a run whose loss diverged, with a checkpoint from before it and advice that works.
//
// Every objective regresses a target of about unit scale (the noise, x0 in [-1, 1], or v), so a
// model that predicts zeros has a loss of about 1; a loss above `divergenceLossLimit`, a hundred
// times that, or a NaN or infinite one, means the weights blew up. The loss of step n is computed
// with the weights of step n-1: the checkpoint of step n-1 (and any later) holds weights that
// already produced the bad loss, so it is moved aside (`checkpoints/diverged-step-N`, kept for
// inspection) and `latest` points at the newest checkpoint before it, whose weights still gave a
// sound loss. `--resume` may then change lr, warmup_steps and clip_grad (see ResumePolicy).
import Foundation

/// A loss above this stops the run as diverged: a hundred times the loss of predicting zeros.
public let divergenceLossLimit = 100.0

extension TrainingSession {
  /// Moves aside the checkpoints trained into the divergence at `step`, points `latest` at the
  /// newest one before it (rank 0) and returns the error to stop with.
  func stopDiverged(step number: Int, loss: Double) throws -> TrainingError {
    func step(of checkpoint: URL) -> Int { Int(checkpoint.lastPathComponent.dropFirst("step-".count)) ?? 0 }
    let checkpoints = run.checkpointsNewestFirst
    let suspect = checkpoints.filter { step(of: $0) >= number - 1 }
    let good = checkpoints.first { step(of: $0) < number - 1 }
    var moved: [String] = []
    if trainer.isRoot {
      for checkpoint in suspect { moved.append("checkpoints/" + (try run.moveAside(checkpoint, prefix: "diverged"))) }
      if !suspect.isEmpty { try run.repointLatest(at: good) }
      try run.appendMetrics(.diverged(step: number, loss: loss))
    }
    return .diverged(step: number, loss: loss, lastGood: good.map { step(of: $0) }, runDirectory: run.url.path,
                     learningRate: config.lr, movedAside: moved)
  }
}

/// A tenth of `lr`, written as a command line takes it: the first learning rate to try after a divergence.
public func lowerLearningRate(_ lr: Double) -> String { String(format: "%g", lr / 10) }
