// The rows of a run's metrics.jsonl, typed: one JSON object per line with its `event` and `step`, as
// the run writes them and as reports, resumed runs and the study's status read them back.
import Foundation

/// One row of metrics.jsonl.
public enum MetricsEvent: Codable, Equatable, Sendable {
  /// A logged training step: its loss, learning rate, gradient norm, throughput and training seconds so far.
  case step(step: Int, loss: Double, lr: Double, gradNorm: Double, imagesPerSecond: Double, trainSeconds: Double)
  /// A snapshot of the EMA weights kept for evaluation along training (`path` relative to the run).
  case snapshot(step: Int, path: String)
  /// A sample grid (`path` relative to the run's samples folder).
  case sample(step: Int, path: String)
  case checkpoint(step: Int)
  /// The run resumed at `step` with settings changed (key: "old -> new").
  case resumed(step: Int, changed: [String: String])
  /// The loss diverged at `step` (a non-finite loss is written as text: JSON has no NaN).
  case diverged(step: Int, loss: Double)

  /// The step the row belongs to.
  public var step: Int {
    switch self {
    case let .step(step, _, _, _, _, _), let .snapshot(step, _), let .sample(step, _), let .checkpoint(step),
         let .resumed(step, _), let .diverged(step, _):
      return step
    }
  }

  /// The row's `event` name.
  public var name: String {
    switch self {
    case .step: return "step"
    case .snapshot: return "snapshot"
    case .sample: return "sample"
    case .checkpoint: return "checkpoint"
    case .resumed: return "resumed"
    case .diverged: return "diverged"
    }
  }

  enum Key: String, CodingKey {
    case event, step, loss, lr, path, changed
    case gradNorm = "grad_norm", imagesPerSecond = "images_per_second", trainSeconds = "train_seconds"
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: Key.self)
    let step = try c.decode(Int.self, forKey: .step)
    switch try c.decode(String.self, forKey: .event) {
    case "step":
      self = .step(step: step, loss: try c.decode(Double.self, forKey: .loss), lr: try c.decode(Double.self, forKey: .lr),
                   gradNorm: try c.decode(Double.self, forKey: .gradNorm), imagesPerSecond: try c.decode(Double.self, forKey: .imagesPerSecond),
                   trainSeconds: try c.decode(Double.self, forKey: .trainSeconds))
    case "snapshot": self = .snapshot(step: step, path: try c.decode(String.self, forKey: .path))
    case "sample": self = .sample(step: step, path: try c.decode(String.self, forKey: .path))
    case "checkpoint": self = .checkpoint(step: step)
    case "resumed": self = .resumed(step: step, changed: try c.decodeIfPresent([String: String].self, forKey: .changed) ?? [:])
    case "diverged":
      let loss = try (try? c.decode(Double.self, forKey: .loss)) ?? Double(c.decode(String.self, forKey: .loss)) ?? .nan
      self = .diverged(step: step, loss: loss)
    case let other:
      throw DecodingError.dataCorruptedError(forKey: .event, in: c, debugDescription: "unknown metrics event \(other)")
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(name, forKey: .event)
    try c.encode(step, forKey: .step)
    switch self {
    case let .step(_, loss, lr, gradNorm, rate, seconds):
      try (c.encode(loss, forKey: .loss), c.encode(lr, forKey: .lr), c.encode(gradNorm, forKey: .gradNorm))
      try (c.encode(rate, forKey: .imagesPerSecond), c.encode(seconds, forKey: .trainSeconds))
    case let .snapshot(_, path), let .sample(_, path): try c.encode(path, forKey: .path)
    case .checkpoint: break
    case let .resumed(_, changed): try c.encode(changed, forKey: .changed)
    case let .diverged(_, loss): try loss.isFinite ? c.encode(loss, forKey: .loss) : c.encode("\(loss)", forKey: .loss)
    }
  }
}
