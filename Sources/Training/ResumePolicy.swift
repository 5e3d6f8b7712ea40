// What `--resume` may change. A checkpoint holds weights, AdamW moments, EMA weights, the step and
// the data loader's position; a setting may change on resume when that state means the same under
// the new value, so the run goes on from it rather than being silently another run:
//   - how long and how often: train_steps, train_seconds, log_every, save_and_sample_every,
//     num_samples, sampling_timesteps, ddim_sampling_eta (the last three only shape sample grids);
//   - the size of the next optimiser steps, to recover from a divergence: lr, warmup_steps,
//     clip_grad, weight_decay;
//   - where and how the same arithmetic runs: device, precision, compile.
// Everything else is refused: the model, the data and its masking, the diffusion and its loss, the
// batch size and seed (the loader's position and every step's random draws depend on them), the
// AdamW betas and the EMA schedule (the saved moments and EMA weights were accumulated with them).
// A resume that changes a setting records the change in metrics.jsonl (`"event": "resumed"`).
import Foundation
import Yams

/// The settings a resumed run may change, and the check of a resumed configuration.
public enum ResumePolicy {
  /// The dotted keys `--resume` accepts a new value for.
  public static let changeableKeys: Set<String> = [
    "train_steps", "train_seconds", "log_every", "save_and_sample_every", "num_samples", "sampling_timesteps",
    "ddim_sampling_eta", "lr", "warmup_steps", "clip_grad", "weight_decay", "device", "precision", "compile",
  ]

  /// One setting whose value differs between two configurations, as the YAML writes them.
  public struct Change: Equatable, CustomStringConvertible {
    public let key: String
    public let old: String
    public let new: String
    public var description: String { "\(key) \(old) -> \(new)" }
  }

  /// Every dotted key whose value differs from `old` to `new`, in the order of config.yaml.
  public static func changes(from old: TrainConfig, to new: TrainConfig) -> [Change] {
    let sections: [(String, [Field])] = [("", ConfigSchema.top), ("dataset.", ConfigSchema.dataset), ("network.", ConfigSchema.network)]
    return sections.flatMap { prefix, fields in
      fields.compactMap { field -> Change? in
        let (a, b) = (field.read(old), field.read(new))
        return a == b ? nil : Change(key: prefix + field.key, old: a.any, new: b.any)
      }
    }
  }

  /// The changes from the configuration a run was started with to the one it resumes with; an error
  /// names the settings that may not change, and those that may.
  public static func check(resuming old: TrainConfig, with new: TrainConfig, runDirectory: URL) throws -> [Change] {
    let all = changes(from: old, to: new)
    let refused = all.filter { !changeableKeys.contains($0.key) }
    guard refused.isEmpty else {
      throw ConfigError(
        "the configuration differs from the one \(runDirectory.path) was started with (config.yaml) in "
          + refused.map(\.description).joined(separator: ", ") + ", which --resume cannot change: the checkpoint's "
          + "weights, optimizer state and data position were made with those values. Resume with the same values, or "
          + "start a new --out directory (--init-from \(runDirectory.path) starts it from these weights). --resume may change "
          + changeableKeys.sorted().joined(separator: ", "))
    }
    return all
  }
}
