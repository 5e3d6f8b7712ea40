// `maskdm convert`: the authors' PyTorch training checkpoint to a `.safetensors` weights file that
// `maskdm sample` and `--init-from` load, and an optional strict check of it against a config's model.
import Engine
import TorchFormats
import Foundation
import MaskDM
import NN

/// What a conversion wrote.
public struct WeightsConversion {
  public var output: URL
  public var weights: AuthorsCheckpoint.Weights
  /// Number of tensors and of scalars in them.
  public var tensorCount: Int
  public var scalarCount: Int
  /// Entries left out as not network parameters (the diffusion wrapper's schedule buffers).
  public var dropped: [String]
  public var step: Int?
}

/// Converts the authors' checkpoint `checkpoint` (a `.pt` file) into `output`, written atomically so
/// an interrupted run never leaves a half-written weights file. Tensors keep their stored dtype.
@discardableResult
public func convertAuthorsCheckpoint(_ checkpoint: URL, to output: URL, weights: AuthorsCheckpoint.Weights) throws -> WeightsConversion {
  let converted = try AuthorsCheckpoint(contentsOf: checkpoint).weights(weights)
  var metadata = ["format": "maskdm-weights", "source": checkpoint.lastPathComponent, "weights": weights.rawValue]
  if let step = converted.step { metadata["step"] = "\(step)" }
  let bytes = try SafetensorsFile(tensors: converted.tensors, metadata: metadata).encoded()
  try writeAtomically(bytes, to: output)
  return WeightsConversion(output: output, weights: weights, tensorCount: converted.tensors.count,
                           scalarCount: converted.tensors.values.reduce(0) { $0 + $1.size },
                           dropped: converted.dropped, step: converted.step)
}

/// Loads a weights file into the model `config` describes and reports the names that did not match.
/// A weight whose shape differs from the model's is an error naming it.
public func checkWeights(_ url: URL, against config: TrainConfig) throws -> LoadReport {
  try Engine.run {
    let model = try MaskedUViT(config.network, key: PRNGKey(seed: 0))
    return try model.load(try SafetensorsFile.load(url).tensors, strict: false)
  }
}
