// Multi-head self-attention as in the authors' models/mask_uvit.py: one `qkv` Linear without bias,
// or with learned q and v biases and a zero k bias (`qkv_bias`); scale head_dim^-0.5; `proj` with bias.
import Engine

public final class Attention: Module {
  public let heads: Int
  let qkv: Linear
  let proj: Linear

  public init(_ dim: Int, heads: Int, qkvBias: Bool = false, key: PRNGKey) throws {
    precondition(dim % heads == 0, "dim must be a multiple of heads")
    self.heads = heads
    let keys = try key.split(2)
    qkv = try Linear(dim, 3 * dim, bias: false, key: keys[0])
    proj = try Linear(dim, dim, key: keys[1])
    super.init()
    addChild("qkv", qkv)
    addChild("proj", proj)
    if qkvBias {
      setParameter("q_bias", try Tensor.zeros([dim]))
      setParameter("v_bias", try Tensor.zeros([dim]))
    }
  }

  /// x: (B, L, D) -> (B, L, D).
  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    let d = x.shape[2]
    var packed = try qkv(x)  // (B, L, 3D)
    if hasParameter("q_bias") {
      let bias = try Tensor.concatenate([self["q_bias"], Tensor.zeros([d]), self["v_bias"]])
      packed = try packed + bias
    }
    let o = try Tensor.attention(packedQKV: packed, heads: heads, scale: Float(1 / Double(d / heads).squareRoot()))
    return try proj(o)  // (B, L, D)
  }
}

/// The U-ViT block: `x = x + attn(norm1(x))`, `x = x + mlp(norm2(x))`, with an optional
/// `skip_linear` (2D -> D) applied first to `[x, skip]` (the long skips of the out-blocks).
public final class TransformerBlock: Module {
  let norm1: LayerNorm
  let attn: Attention
  let norm2: LayerNorm
  let mlp: MLP
  let skipLinear: Linear?

  public init(_ dim: Int, heads: Int, mlpRatio: Double = 4, qkvBias: Bool = false, skip: Bool = false, key: PRNGKey) throws {
    let keys = try key.split(3)
    norm1 = try LayerNorm(dim)
    attn = try Attention(dim, heads: heads, qkvBias: qkvBias, key: keys[0])
    norm2 = try LayerNorm(dim)
    mlp = try MLP(dim, hidden: Int(Double(dim) * mlpRatio), key: keys[1])
    skipLinear = skip ? try Linear(2 * dim, dim, key: keys[2]) : nil
    super.init()
    addChild("norm1", norm1)
    addChild("attn", attn)
    addChild("norm2", norm2)
    addChild("mlp", mlp)
    if let skipLinear { addChild("skip_linear", skipLinear) }
  }

  public func callAsFunction(_ input: Tensor, skip: Tensor? = nil) throws -> Tensor {
    var x = input
    if let skipLinear, let skip { x = try skipLinear(concatenationOf: [x, skip]) }
    x = try x + attn(norm1(x))
    return try x + mlp(norm2(x))
  }
}
