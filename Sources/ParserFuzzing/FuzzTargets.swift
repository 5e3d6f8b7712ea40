// The entry points of every reader of untrusted bytes, one per fuzz target: what libFuzzer drives
// (Sources/fuzz-parsers, scripts/fuzz_parsers.sh) and what the corpus replay test feeds the saved
// inputs of Tests/Fixtures/fuzz/ to. Each reader must load its input or refuse it with an error;
// a crash, a hang or a leak is a bug.
import Datasets
import Engine
import Evaluation
import Foundation
import Studies
import TorchFormats
import Training

/// A reader under fuzzing, named as its corpus folder is.
public enum FuzzTarget: String, CaseIterable, Sendable {
  /// PyTorch files: the bounds-checked zip, the allowlist unpickler, the tensor views.
  case torch
  /// `.safetensors` weights and checkpoints.
  case safetensors
  /// `.npz` FID statistics.
  case npz
  /// (Fashion-)MNIST's IDX arrays (after gunzip).
  case idx
  /// PNG through the libpng wrapper.
  case png
  /// JPEG through the libjpeg wrapper.
  case jpeg
  /// A training configuration (YAML).
  case config
  /// A study plan (YAML).
  case plan
  /// The markdown plans that `maskdm study import` turns into plan YAML.
  case seedMarkdown = "seed-markdown"

  /// Reads `data` with this target's reader; a thrown error is a correct refusal. Says what happened.
  @discardableResult
  public func parse(_ data: Data) -> String {
    do {
      return try read(data)
    } catch {
      return "refused: \(error)"
    }
  }

  func read(_ data: Data) throws -> String {
    let text = { String(decoding: data, as: UTF8.self) }
    switch self {
    case .torch:
      let file = try Engine.run { try TorchFile(data: data, source: "fuzz.pt") }
      return "loaded \(file.tensors.count) tensors"
    case .safetensors:
      let file = try Engine.run { try SafetensorsFile.parse(data, name: "fuzz.safetensors") }
      return "loaded \(file.tensors.count) tensors"
    case .npz:
      let statistics = try FeatureStatistics.read(npz: data, name: "fuzz.npz")
      return "loaded \(statistics.dimension)-d statistics"
    case .idx:
      let array = try parseIDX([UInt8](data), source: "fuzz-idx")
      return "loaded an array of shape \(array.shape)"
    case .png, .jpeg:
      let image = try decodeImage(data: [UInt8](data))
      return "decoded \(image.width)x\(image.height)x\(image.channels)"
    case .config:
      let config = try TrainConfig(yaml: text(), source: "fuzz.yaml")
      return "loaded a config of \(config.trainSteps) steps"
    case .plan:
      let plan = try StudyPlan(yaml: text())
      return "loaded a plan of \(plan.ablations.count) ablations"
    case .seedMarkdown:
      let (yaml, _) = try explainedImport(text(), name: "fuzz")
      return "imported \(yaml.utf8.count) bytes of plan"
    }
  }
}
