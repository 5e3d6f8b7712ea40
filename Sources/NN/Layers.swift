// Linear, LayerNorm and the transformer MLP, with PyTorch's parameter names and layouts
// (Linear weight (out, in); `y = x Wᵀ + b`).
import Engine

/// `y = x Wᵀ + b` over the last axis.
public final class Linear: Module {
  public init(_ inputs: Int, _ outputs: Int, bias: Bool = true, key: PRNGKey) throws {
    super.init()
    setParameter("weight", try truncatedNormal([outputs, inputs], key: key))
    if bias { setParameter("bias", try Tensor.zeros([outputs])) }
  }

  /// Computes in the weight's precision: under bf16 mixed precision the input is cast to bfloat16.
  public func callAsFunction(_ input: Tensor) throws -> Tensor {
    try callAsFunction(concatenationOf: [input])
  }

  /// The layer on the concatenation of `parts` along the last axis, without building it.
  public func callAsFunction(concatenationOf parts: [Tensor]) throws -> Tensor {
    let w = self["weight"]
    let shape = parts[0].shape
    let flat = try parts.map { part in
      let x = part.dtype == w.dtype ? part : try part.astype(w.dtype)
      return x.shape.count == 2 ? x : try x.reshaped([-1, x.shape[x.shape.count - 1]])  // (rows, in_i)
    }
    let y = try Tensor.linear(concatenationOf: flat, weight: w, bias: hasParameter("bias") ? self["bias"] : nil)
    return shape.count == 2 ? y : try y.reshaped(Array(shape.dropLast()) + [w.shape[0]])
  }
}

/// LayerNorm over the last axis, eps 1e-5, weight 1 and bias 0 at initialisation. Always computed
/// in float32 (statistics and output), whatever the input's precision: the mixed-precision rule.
public final class LayerNorm: Module {
  public let eps: Float
  public init(_ dim: Int, eps: Float = 1e-5) throws {
    self.eps = eps
    super.init()
    setParameter("weight", try Tensor.ones([dim]))
    setParameter("bias", try Tensor.zeros([dim]))
  }
  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    try x.astype(.float32).layerNorm(weight: self["weight"].astype(.float32), bias: self["bias"].astype(.float32), eps: eps)
  }
}

/// timm's `Mlp`: fc1 -> exact GELU -> fc2.
public final class MLP: Module {
  let fc1: Linear
  let fc2: Linear
  public init(_ dim: Int, hidden: Int, key: PRNGKey) throws {
    let keys = try key.split(2)
    fc1 = try Linear(dim, hidden, key: keys[0])
    fc2 = try Linear(hidden, dim, key: keys[1])
    super.init()
    addChild("fc1", fc1)
    addChild("fc2", fc2)
  }
  public func callAsFunction(_ x: Tensor) throws -> Tensor { try fc2(fc1(x).gelu()) }
}
