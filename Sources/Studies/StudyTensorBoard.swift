// A study for TensorBoard: `tensorboard --logdir STUDY` shows one run per variant and training seed
// (STUDY/tb/<slug>/seed-<seed>), overlaid, beside each training stage's live log (STUDY/runs/*/tb).
// A variant's run puts its stages in sequence on one step axis (a fine-tuning's step 1 follows the
// pre-training's last step), as the report's curves do:
//   train/loss                  the logged losses of every stage
//   eval/fid, eval/kid, …       evaluations along training and after each evaluated stage
//   final/fid, final/kid, final/precision, final/recall, final/training_seconds, final/device_seconds,
//   final/images_per_second     the variant's result, at its last step
// The file is rebuilt whole from the recorded result whenever the variant's result is written.
import Foundation
import Training

public enum StudyTensorBoard {
  /// The TensorBoard run of one variant and seed.
  public static func directory(of result: VariantResult, in study: StudyDirectory) -> URL {
    study.url.appendingPathComponent("tb").appendingPathComponent(result.slug)
      .appendingPathComponent("seed-\(result.seed.map(String.init) ?? "unknown")")
  }

  /// The events of `result`: (step, values) in step order.
  public static func events(of result: VariantResult) -> [(step: Int, values: [SummaryValue])] {
    var out: [(step: Int, values: [SummaryValue])] = []
    func scalars(_ prefix: String, _ pairs: [(String, Double?)]) -> [SummaryValue] {
      pairs.compactMap { name, value in value.flatMap { $0.isFinite ? .scalar(tag: "\(prefix)/\(name)", value: Float($0)) : nil } }
    }
    var offset = 0
    for stage in result.stages {
      for point in stage.run.lossCurve where point.count == 2 {
        out.append((offset + Int(point[0]), [.scalar(tag: "train/loss", value: Float(point[1]))]))
      }
      for p in stage.timeline ?? [] {
        out.append((offset + p.step, scalars("eval", [("fid", p.fid), ("kid", p.kidMean), ("precision", p.precision), ("recall", p.recall)])))
      }
      if let e = stage.evaluation, !(stage.timeline ?? []).contains(where: { $0.step == stage.run.steps }) {
        out.append((offset + stage.run.steps, scalars("eval", [("fid", e.fid), ("kid", e.kidMean), ("precision", e.precision), ("recall", e.recall)])))
      }
      offset += stage.run.steps
    }
    if result.finished {
      out.append((offset, scalars("final", [
        ("fid", result.fid), ("kid", result.kidMean), ("precision", result.precision), ("recall", result.recall),
        ("training_seconds", result.trainingSeconds), ("device_seconds", result.deviceSeconds),
        ("images_per_second", result.imagesPerSecond),
      ])))
    }
    return out.filter { !$0.values.isEmpty }
  }

  /// Writes (replaces) the TensorBoard run of `result`.
  public static func write(_ result: VariantResult, in study: StudyDirectory) throws {
    let url = directory(of: result, in: study).appendingPathComponent("events.out.tfevents.0.maskdm-study")
    try writeEventFile(events(of: result), to: url)
  }
}
