// A module tree whose parameter paths are PyTorch state_dict names (`encoder.in_blocks.0.attn.qkv.
// weight`), so the authors' checkpoints load one-to-one. Parameters live in the modules; the flat
// `Parameters` form is what optimisers, checkpoints and `valueAndGrad` see.
import Engine

/// Which names a load matched, missed or did not know.
public struct LoadReport: Equatable, Sendable {
  /// Parameters of the model the weights lacked (they keep their current values).
  public var missing: [String]
  /// Weights that name no parameter of the model.
  public var unexpected: [String]
}

/// A node of the model tree: its own tensors and its named children, both in declaration order.
open class Module {
  private var ownNames: [String] = []
  private var own: [String: Tensor] = [:]
  private var childNames: [String] = []
  private var childModules: [String: Module] = [:]

  public init() {}

  /// Declares (or replaces) a parameter of this module.
  public func setParameter(_ name: String, _ value: Tensor) {
    if own[name] == nil { ownNames.append(name) }
    own[name] = value
  }

  /// Declares a child module.
  @discardableResult
  public func addChild<M: Module>(_ name: String, _ module: M) -> M {
    if childModules[name] == nil { childNames.append(name) }
    childModules[name] = module
    return module
  }

  /// This module's own parameter `name` (a programming error if it was never declared).
  public subscript(_ name: String) -> Tensor {
    guard let t = own[name] else { preconditionFailure("\(type(of: self)) has no parameter \(name)") }
    return t
  }

  /// Whether this module has its own parameter `name`.
  public func hasParameter(_ name: String) -> Bool { own[name] != nil }

  /// Every parameter of the tree by dotted path.
  public func parameters() -> Parameters {
    var out = Parameters()
    collect(prefix: "", into: &out)
    return out
  }

  private func collect(prefix: String, into out: inout Parameters) {
    for n in ownNames { out[prefix + n] = own[n] }
    for c in childNames { childModules[c]!.collect(prefix: prefix + c + ".", into: &out) }
  }

  /// Number of scalars in all parameters.
  public var parameterCount: Int { parameters().values.reduce(0) { $0 + $1.size } }

  /// Replaces parameters by path. Every name must exist and keep its shape; absent names keep their
  /// values. Cheap enough to call inside each traced training step.
  public func update(_ parameters: Parameters) throws {
    for (path, value) in parameters { try assign(path[...], value, fullPath: path) }
  }

  private func assign(_ path: Substring, _ value: Tensor, fullPath: String) throws {
    if let dot = path.firstIndex(of: "."), let child = childModules[String(path[..<dot])] {
      try child.assign(path[path.index(after: dot)...], value, fullPath: fullPath)
      return
    }
    let name = String(path)
    guard let old = own[name] else { throw EngineError("the model has no parameter \(fullPath)") }
    let (a, b) = (old.shape, value.shape)
    guard a == b else { throw EngineError("parameter \(fullPath) has shape \(a); the weights have \(b)") }
    own[name] = value
  }

  /// Loads weights by name, stripping a leading `model.` (the authors' training checkpoints), and
  /// converting dtypes to the model's. With `strict`, missing or unexpected names are an error.
  @discardableResult
  public func load(_ weights: Parameters, strict: Bool = true) throws -> LoadReport {
    let current = parameters()
    var matched = Parameters()
    var unexpected: [String] = []
    for (name, value) in weights {
      let key = name.hasPrefix("model.") && current[name] == nil ? String(name.dropFirst(6)) : name
      guard let existing = current[key] else {
        unexpected.append(name)
        continue
      }
      matched[key] = try value.astype(existing.dtype)
    }
    let missing = current.keys.filter { matched[$0] == nil }.sorted()
    unexpected.sort()
    if strict, !missing.isEmpty || !unexpected.isEmpty {
      throw EngineError("weights do not match the model: missing \(missing.prefix(8)), unexpected \(unexpected.prefix(8))")
    }
    try update(matched)
    return LoadReport(missing: missing, unexpected: unexpected)
  }
}

/// Truncated normal initialisation (timm's `trunc_normal_(std=0.02)`: cut at ±2 absolute, which for
/// std 0.02 is ±100 standard deviations, i.e. effectively a normal).
public func truncatedNormal(_ shape: [Int], std: Double = 0.02, key: PRNGKey) throws -> Tensor {
  try Random.truncatedNormal(shape, lower: -2 / std, upper: 2 / std, key: key) * std
}
