// Training checkpoints of the authors' PyTorch code (train_step.py `save_training_state`):
//   {'step': int, 'model': diffusion.state_dict(), 'opt': AdamW state, 'ema': EMA.state_dict(), 'scaler': …}
// `model` holds the network as `model.<name>` next to the diffusion wrapper's schedule buffers
// (`betas`, `alphas_cumprod`, …); `ema` (ema-pytorch) holds `ema_model.<same names>`,
// `online_model.<same names>`, `initted` and `step`. A DDP/accelerate wrapper may add `module.`.
// What comes out is the network's weights under the names our MaskedUViT uses (the authors'
// state_dict names without those prefixes). Reading goes through the restricted TorchFile reader.
import Engine
import Foundation

/// A PyTorch checkpoint of the authors' trainer, read as data.
public struct AuthorsCheckpoint {
  /// Which weights to take: the trained network or its exponential moving average.
  public enum Weights: String, Sendable {
    case model, ema
  }

  /// The network's weights, named as our model names its parameters.
  public struct Converted {
    public var tensors: [String: Tensor]
    /// Names that were left out because they are not network parameters (the diffusion schedule).
    public var dropped: [String]
    /// The training step the checkpoint was written at, when it says.
    public var step: Int?
  }

  /// The file name, for messages.
  public let source: String
  /// The keys of the checkpoint's top-level dict, in file order (empty when the root is not a dict).
  public let topLevelKeys: [String]
  let file: TorchFile

  public init(contentsOf url: URL) throws {
    try self.init(file: TorchFile(contentsOf: url), source: url.lastPathComponent)
  }

  public init(data: Data, source: String) throws {
    try self.init(file: TorchFile(data: data, source: source), source: source)
  }

  init(file: TorchFile, source: String) {
    self.file = file
    self.source = source
    if case let .dict(d) = file.root {
      topLevelKeys = d.keys.map { if case let .string(s) = $0 { return s } else { return "\($0)" } }
    } else {
      topLevelKeys = []
    }
  }

  /// The network's weights (`.model`) or their EMA (`.ema`), with every tensor as stored.
  public func weights(_ which: Weights) throws -> Converted {
    guard case let .dict(root) = file.root else {
      throw UntrustedFileError("\(source) is not a training checkpoint: its top level is not a dict")
    }
    var step: Int?
    if case let .int(s)? = root["step"] { step = s }
    let shown = topLevelKeys.prefix(12).joined(separator: ", ") + (topLevelKeys.count > 12 ? ", … (\(topLevelKeys.count) in all)" : "")
    let found = "top-level keys found: \(topLevelKeys.isEmpty ? "none" : shown)"
    var names: [(stored: String, name: String)]
    switch which {
    case .model:
      if let stateDict = root["model"] {
        names = tensorNames(stateDict, under: "model").map { ($0, String($0.dropFirst("model.".count))) }
      } else if isStateDict(root) {
        // `torch.save(model.state_dict())`: the weights themselves at the top level.
        names = file.tensors.keys.map { ($0, $0) }
      } else {
        throw UntrustedFileError("\(source) is not a checkpoint of the authors' trainer: it has no 'model' entry (\(found))")
      }
    case .ema:
      guard let ema = root["ema"] else {
        throw UntrustedFileError("\(source) holds no EMA weights: it has no 'ema' entry (\(found)); convert without --ema for the raw weights")
      }
      let prefix = "ema.ema_model."
      names = tensorNames(ema, under: "ema").filter { $0.hasPrefix(prefix) }.map { ($0, String($0.dropFirst(prefix.count))) }
      guard !names.isEmpty else {
        let keys = tensorNames(ema, under: "ema").map { String($0.dropFirst(4)) }.sorted()
        throw UntrustedFileError("\(source): its 'ema' entry has no ema_model.* weights (it has \(keys.prefix(8).joined(separator: ", ")))")
      }
    }
    let (kept, dropped) = networkNames(names.map(\.name))
    var tensors: [String: Tensor] = [:]
    for ((stored, _), keep) in zip(names, kept) where keep != nil {
      guard tensors[keep!] == nil else { throw UntrustedFileError("\(source): two weights are both named \(keep!) once prefixes are removed") }
      tensors[keep!] = file.tensors[stored]!
    }
    guard !tensors.isEmpty else {
      throw UntrustedFileError("\(source): its '\(which == .ema ? "ema" : "model")' entry holds no network weights (\(found))")
    }
    return Converted(tensors: tensors, dropped: dropped.sorted(), step: step)
  }

  /// The dotted paths of the tensors directly inside `value` (a state dict stored at `path`).
  func tensorNames(_ value: PickleValue, under path: String) -> [String] {
    guard case let .dict(d) = value else { return [] }
    return d.keys.compactMap { key in
      guard case let .string(k) = key, file.tensors["\(path).\(k)"] != nil else { return nil }
      return "\(path).\(k)"
    }
  }

  func isStateDict(_ root: PickleDict) -> Bool {
    !root.values.isEmpty && root.values.allSatisfy { if case .tensor = $0 { return true } else { return false } }
  }
}

/// Our name for each state_dict name (nil: not a network parameter) and the names dropped. A wrapper's
/// `module.` goes; when the names are those of the diffusion wrapper (`model.<network name>`), the
/// wrapper's own entries are its noise-schedule buffers, which the model recomputes, so they go too.
func networkNames(_ names: [String]) -> (kept: [String?], dropped: [String]) {
  func unwrap(_ s: String) -> String { s.hasPrefix("module.") ? String(s.dropFirst("module.".count)) : s }
  let plain = names.map(unwrap)
  guard plain.contains(where: { $0.hasPrefix("model.") }) else { return (plain, []) }
  let kept = plain.map { $0.hasPrefix("model.") ? unwrap(String($0.dropFirst("model.".count))) : nil }
  return (kept, zip(plain, kept).compactMap { $1 == nil ? $0 : nil })
}
