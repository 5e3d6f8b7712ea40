// Fused operations of the training step that run this project's multi-threaded CPU kernels
// (Sources/CMLX/kernels) for float32 on the CPU, and MLX's own ops elsewhere. `fast: false` forces
// MLX's composition: the reference the kernels are tested against.
import CMLX

extension Tensor {
  /// Multi-head self-attention from a packed projection: `qkv` (B, L, 3·D) laid out as
  /// (B, L, 3, heads, D/heads) -> (B, L, D), `softmax(q kᵀ · scale) v` per head.
  /// `padTokensTo`: nil is automatic (on the GPU, bf16/fp16 tokens are padded to a multiple of 128
  /// when that adds at most half again, for cuDNN's fused backward; MASKDM_ATTENTION_PAD=0 turns it
  /// off); a number forces MLX's composition with the tokens padded to a multiple of it, the padded
  /// keys masked out (1: no padding).
  public static func attention(packedQKV qkv: Tensor, heads: Int, scale: Float, fast: Bool = true,
                               padTokensTo: Int? = nil) throws -> Tensor {
    try make("attention") { mlxs_attention($0, qkv.handle, Int32(heads), scale, fast ? 1 : 0, Int32(padTokensTo ?? 0)) }
  }

  /// `x wᵀ + bias` for `x` (rows, in) and `w` (out, in), PyTorch's Linear. Its gradient of `w` is
  /// computed as `gᵀ x`, row-major in `w`'s layout (MLX's own is a transposed view the optimizer must
  /// copy). `fast: false` forces `addmm` on `w.transposed()` (the reference of the tests).
  public static func linear(_ x: Tensor, weight w: Tensor, bias: Tensor?, fast: Bool = true) throws -> Tensor {
    try linear(concatenationOf: [x], weight: w, bias: bias, fast: fast)
  }

  /// `linear` of the concatenation of `parts` (rows, inᵢ) along the features, without building it:
  /// each part meets its block of `w`'s columns (U-ViT's long skips, `skip_linear(cat(x, skip))`).
  public static func linear(concatenationOf parts: [Tensor], weight w: Tensor, bias: Tensor?, fast: Bool = true) throws
    -> Tensor
  {
    try make("linear") {
      mlxs_linear($0, parts.map(\.handle), Int32(parts.count), w.handle, bias?.handle ?? mlxs_array(ctx: nil), fast ? 1 : 0)
    }
  }

  /// One AdamW step (PyTorch's `torch.optim.AdamW` formula) followed by the EMA update, for one
  /// parameter. `scalars` is float32 `[lr, lr·weight_decay, lr/bias1, sqrt(bias2), ema_decay]`.
  /// Returns the new parameter, first and second moments, and EMA weights.
  public static func adamwEMAUpdate(
    parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, ema: Tensor, scalars: Tensor,
    beta1: Double, beta2: Double, eps: Double, weightDecay: Bool, fast: Bool = true
  ) throws -> (parameter: Tensor, m: Tensor, v: Tensor, ema: Tensor) {
    var out = mlxs_vec(ctx: nil)
    try checkStatus(mlxs_vec_new(&out), "adamw_ema")
    let status = mlxs_adamw_ema(
      out, parameter.handle, gradient.handle, m.handle, v.handle, ema.handle, scalars.handle,
      beta1, beta2, eps, weightDecay ? 1 : 0, fast ? 1 : 0)
    if status != 0 { mlxs_vec_free(out) }
    try checkStatus(status, "adamw_ema")
    let r = try unpack(out)
    return (r[0], r[1], r[2], r[3])
  }
}
