// A run's live curves for TensorBoard (`tensorboard --logdir RUN` or a study directory): the trainer's
// typed events, recorded as they come into RUN/tb/. Tags:
//   train/loss, train/learning_rate, train/grad_norm, train/step_seconds, train/images_per_second
//   samples/grid (the sample grid PNG at its step), eval/<metric> (evaluations along training)
// Every start of the process gets its own file; a resumed run marks a restart at its first new step,
// so TensorBoard drops what the stopped process logged past the checkpoint it resumes from.
import Foundation

/// Records one run's training events as TensorBoard events in `RUN/tb/`.
public final class TensorBoardLog {
  public let directory: URL
  private var writer: EventFileWriter?
  /// The first error met (recording goes on without TensorBoard files; training never stops for them).
  public private(set) var failure: Error?

  /// The log of the run in `runDirectory` (files in `runDirectory/tb`); nothing is written until an event comes.
  public init(runDirectory: URL) {
    directory = runDirectory.appendingPathComponent("tb")
  }

  /// Records `event` (events without a curve or an image are ignored).
  public func record(_ event: TrainingEvent) {
    switch event {
    case let .started(step, _, resumed, _, _, _):
      attempt { w in if resumed || step > 0 { try w.restart(at: step + 1) } }
    case let .step(r):
      var values: [SummaryValue] = [.scalar(tag: "train/loss", value: Float(r.loss)),
                                    .scalar(tag: "train/learning_rate", value: Float(r.learningRate))]
      if let g = r.gradNorm { values.append(.scalar(tag: "train/grad_norm", value: Float(g))) }
      if let s = r.stepSeconds { values.append(.scalar(tag: "train/step_seconds", value: Float(s))) }
      if r.imagesPerSecond > 0 { values.append(.scalar(tag: "train/images_per_second", value: Float(r.imagesPerSecond))) }
      attempt { try $0.write(step: r.step, values) }
    case let .sample(step, url):
      attempt { w in
        let data = try Data(contentsOf: url)
        guard let info = pngImageInfo(data) else { return }
        try w.write(step: step, [.image(tag: "samples/grid", height: info.height, width: info.width, colorspace: info.colorspace, encoded: data)])
      }
    case .preparingData, .notice, .initialized, .checkpoint, .finished:
      break
    }
  }

  /// Evaluation scalars at `step` (`eval/fid`, …), as a study measures them along training.
  public func recordEvaluation(step: Int, _ metrics: [(String, Double)]) {
    let values = metrics.filter { $0.1.isFinite }.map { SummaryValue.scalar(tag: "eval/\($0.0)", value: Float($0.1)) }
    attempt { try $0.write(step: step, values) }
  }

  private func attempt(_ body: (EventFileWriter) throws -> Void) {
    guard failure == nil else { return }
    do {
      if writer == nil { writer = try EventFileWriter(directory: directory) }
      try body(writer!)
    } catch {
      failure = error
    }
  }
}
