// Reductions, softmax and the fused ("fast") layer norm and attention.
import CMLX

extension Tensor {
  func reduce(_ op: mlxs_reduce_op, _ axes: [Int]?, _ keepDims: Bool, _ name: String) throws -> Tensor {
    let ax = (axes ?? []).map(Int32.init)
    return try Tensor.make(name) {
      mlxs_reduce($0, Int32(op.rawValue), handle, ax, axes == nil ? -1 : Int32(ax.count), keepDims)
    }
  }
  /// Sum over `axes` (all when nil).
  public func sum(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_SUM, axes, keepDims, "sum")
  }
  public func mean(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_MEAN, axes, keepDims, "mean")
  }
  public func max(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_MAX, axes, keepDims, "max")
  }
  public func min(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_MIN, axes, keepDims, "min")
  }
  public func prod(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_PROD, axes, keepDims, "prod")
  }
  public func logsumexp(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_LOGSUMEXP, axes, keepDims, "logsumexp")
  }
  public func any(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_ANY, axes, keepDims, "any")
  }
  public func all(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_ALL, axes, keepDims, "all")
  }
  /// Index of the largest element along `axis` (of the flattened tensor when nil).
  public func argmax(axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_ARGMAX, axis.map { [$0] }, keepDims, "argmax")
  }
  public func argmin(axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
    try reduce(MLXS_ARGMIN, axis.map { [$0] }, keepDims, "argmin")
  }
  /// Variance with `ddof` delta degrees of freedom.
  public func variance(axes: [Int]? = nil, keepDims: Bool = false, ddof: Int = 0) throws -> Tensor {
    let ax = (axes ?? []).map(Int32.init)
    return try Tensor.make("var") {
      mlxs_var($0, handle, ax, axes == nil ? -1 : Int32(ax.count), keepDims, Int32(ddof))
    }
  }
  public func cumsum(axis: Int, reverse: Bool = false, inclusive: Bool = true) throws -> Tensor {
    try Tensor.make("cumsum") { mlxs_cumsum($0, handle, Int32(axis), reverse, inclusive) }
  }
  /// Sorted along `axis`.
  public func sorted(axis: Int = -1) throws -> Tensor {
    try Tensor.make("sort") { mlxs_sort($0, handle, Int32(axis), false) }
  }
  /// Indices that sort along `axis`.
  public func argsort(axis: Int = -1) throws -> Tensor {
    try Tensor.make("argsort") { mlxs_sort($0, handle, Int32(axis), true) }
  }

  /// Softmax over `axes` (computed in float32 for lower precisions when `precise`).
  public func softmax(axes: [Int] = [-1], precise: Bool = true) throws -> Tensor {
    let ax = axes.map(Int32.init)
    return try Tensor.make("softmax") { mlxs_softmax($0, handle, ax, Int32(ax.count), precise) }
  }

  /// LayerNorm over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`. With weight and
  /// bias in float32 on the CPU it runs this project's kernel; `fast: false` uses MLX's own.
  public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, fast: Bool = true) throws -> Tensor {
    let none = mlxs_array(ctx: nil)
    return try Tensor.make("layer_norm") {
      mlxs_layer_norm($0, handle, weight?.handle ?? none, bias?.handle ?? none, eps, fast ? 1 : 0)
    }
  }

  /// `softmax(q kᵀ * scale [+ mask]) v` for q, k, v of shape (B, heads, L, head_dim).
  public static func scaledDotProductAttention(
    queries: Tensor, keys: Tensor, values: Tensor, scale: Float, mask: Tensor? = nil
  ) throws -> Tensor {
    try make("scaled_dot_product_attention") {
      mlxs_sdpa($0, queries.handle, keys.handle, values.handle, scale, mask?.handle ?? mlxs_array(ctx: nil))
    }
  }

  /// 2-D convolution, NHWC input and OHWI weight, with explicit padding on each side.
  public func conv2d(
    weight: Tensor, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    paddingHigh: (Int, Int)? = nil, dilation: (Int, Int) = (1, 1), groups: Int = 1
  ) throws -> Tensor {
    let s = [Int32(stride.0), Int32(stride.1)]
    let lo = [Int32(padding.0), Int32(padding.1)]
    let high = paddingHigh ?? padding
    let hi = [Int32(high.0), Int32(high.1)]
    let d = [Int32(dilation.0), Int32(dilation.1)]
    return try Tensor.make("conv2d") { mlxs_conv2d($0, handle, weight.handle, s, lo, hi, d, Int32(groups)) }
  }

  /// `max(conv2d(x, weight) + bias, 0)` (without the max when `relu` is false) in one op: NHWC input,
  /// OHWI weight, bias of shape (O) or none, explicit padding on each side. In float32 on the CPU it
  /// runs this project's kernel (chunked im2col, one BLAS product per chunk, fused epilogue), else
  /// MLX's `conv2d`, add and maximum; `fast: false` forces the latter. Differentiable.
  public func conv2dBiasReLU(
    weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    paddingHigh: (Int, Int)? = nil, relu: Bool = true, fast: Bool = true
  ) throws -> Tensor {
    let s = [Int32(stride.0), Int32(stride.1)]
    let lo = [Int32(padding.0), Int32(padding.1)]
    let high = paddingHigh ?? padding
    let hi = [Int32(high.0), Int32(high.1)]
    return try Tensor.make("conv2d_bias_relu") {
      mlxs_conv2d_bias_relu($0, handle, weight.handle, bias?.handle ?? mlxs_array(ctx: nil), s, lo, hi, relu ? 1 : 0,
                            fast ? 1 : 0)
    }
  }

  /// `kernel` x `kernel` max or average pooling of NHWC input with `stride` and `padding` on each side
  /// (less than `kernel`); an average counts padded pixels only when `includePad`. In float32 on the CPU
  /// it runs this project's kernel (one threaded pass), else the max or sum of the kernel² strided slices
  /// of the padded input, which a compiled graph fuses; `fast: false` forces the latter. Differentiable.
  public func pool2d(max isMax: Bool, kernel: Int, stride: Int, padding: Int, includePad: Bool, fast: Bool = true) throws
    -> Tensor
  {
    try Tensor.make("pool2d") {
      mlxs_pool2d($0, handle, isMax ? 1 : 0, Int32(kernel), Int32(stride), Int32(padding), includePad ? 1 : 0,
                  fast ? 1 : 0)
    }
  }
}
