// Element-wise math, comparisons and the Swift operators over tensors.
import CMLX

extension Tensor {
  @inline(__always)
  func unary(_ op: mlxs_unary_op, _ name: String) throws -> Tensor {
    try Tensor.make(name) { mlxs_unary($0, Int32(op.rawValue), handle) }
  }
  @inline(__always)
  func binary(_ op: mlxs_binary_op, _ other: Tensor, _ name: String) throws -> Tensor {
    try Tensor.make(name) { mlxs_binary($0, Int32(op.rawValue), handle, other.handle) }
  }
  /// A scalar of this tensor's dtype (so `x * 2` keeps x's precision).
  func like(_ value: Double) throws -> Tensor { try Tensor.scalar(value, dtype: dtype) }

  public func negated() throws -> Tensor { try unary(MLXS_NEG, "negative") }
  public func abs() throws -> Tensor { try unary(MLXS_ABS, "abs") }
  public func exp() throws -> Tensor { try unary(MLXS_EXP, "exp") }
  public func log() throws -> Tensor { try unary(MLXS_LOG, "log") }
  public func log1p() throws -> Tensor { try unary(MLXS_LOG1P, "log1p") }
  public func expm1() throws -> Tensor { try unary(MLXS_EXPM1, "expm1") }
  public func sqrt() throws -> Tensor { try unary(MLXS_SQRT, "sqrt") }
  public func rsqrt() throws -> Tensor { try unary(MLXS_RSQRT, "rsqrt") }
  public func square() throws -> Tensor { try unary(MLXS_SQUARE, "square") }
  public func sin() throws -> Tensor { try unary(MLXS_SIN, "sin") }
  public func cos() throws -> Tensor { try unary(MLXS_COS, "cos") }
  public func tanh() throws -> Tensor { try unary(MLXS_TANH, "tanh") }
  public func sigmoid() throws -> Tensor { try unary(MLXS_SIGMOID, "sigmoid") }
  public func erf() throws -> Tensor { try unary(MLXS_ERF, "erf") }
  public func erfinv() throws -> Tensor { try unary(MLXS_ERFINV, "erfinv") }
  public func floor() throws -> Tensor { try unary(MLXS_FLOOR, "floor") }
  public func ceil() throws -> Tensor { try unary(MLXS_CEIL, "ceil") }
  public func rounded() throws -> Tensor { try unary(MLXS_ROUND, "round") }
  public func sign() throws -> Tensor { try unary(MLXS_SIGN, "sign") }
  public func reciprocal() throws -> Tensor { try unary(MLXS_RECIPROCAL, "reciprocal") }
  public func logicalNot() throws -> Tensor { try unary(MLXS_NOT, "logical_not") }
  public func isNaN() throws -> Tensor { try unary(MLXS_ISNAN, "isnan") }
  public func isInf() throws -> Tensor { try unary(MLXS_ISINF, "isinf") }
  public func isFinite() throws -> Tensor { try unary(MLXS_ISFINITE, "isfinite") }
  /// The same values, cut out of the gradient graph.
  public func stopGradient() throws -> Tensor { try unary(MLXS_STOP_GRADIENT, "stop_gradient") }
  /// A copy with its own buffer.
  public func copy() throws -> Tensor { try unary(MLXS_COPY, "copy") }

  /// Exact GELU, `x * (1 + erf(x / sqrt(2))) / 2` (PyTorch's default `nn.GELU()`). On the CPU in
  /// float32 this runs this project's vectorised kernel; `fast: false` composes MLX's own ops.
  public func gelu(fast: Bool = true) throws -> Tensor {
    try Tensor.make("gelu") { mlxs_gelu($0, handle, fast ? 1 : 0) }
  }

  public func pow(_ exponent: Tensor) throws -> Tensor { try binary(MLXS_POW, exponent, "power") }
  public func maximum(_ other: Tensor) throws -> Tensor { try binary(MLXS_MAXIMUM, other, "maximum") }
  public func minimum(_ other: Tensor) throws -> Tensor { try binary(MLXS_MINIMUM, other, "minimum") }
  public func floorDivide(_ other: Tensor) throws -> Tensor { try binary(MLXS_FLOOR_DIVIDE, other, "floor_divide") }
  public func remainder(_ other: Tensor) throws -> Tensor { try binary(MLXS_REMAINDER, other, "remainder") }
  public func logicalAnd(_ other: Tensor) throws -> Tensor { try binary(MLXS_AND, other, "logical_and") }
  public func logicalOr(_ other: Tensor) throws -> Tensor { try binary(MLXS_OR, other, "logical_or") }
  public func equal(_ other: Tensor) throws -> Tensor { try binary(MLXS_EQ, other, "equal") }
  public func notEqual(_ other: Tensor) throws -> Tensor { try binary(MLXS_NE, other, "not_equal") }
  public func less(_ other: Tensor) throws -> Tensor { try binary(MLXS_LT, other, "less") }
  public func lessEqual(_ other: Tensor) throws -> Tensor { try binary(MLXS_LE, other, "less_equal") }
  public func greater(_ other: Tensor) throws -> Tensor { try binary(MLXS_GT, other, "greater") }
  public func greaterEqual(_ other: Tensor) throws -> Tensor { try binary(MLXS_GE, other, "greater_equal") }

  /// Matrix product with NumPy broadcasting of the batch dimensions.
  public func matmul(_ other: Tensor) throws -> Tensor { try binary(MLXS_MATMUL, other, "matmul") }

  /// `beta * c + alpha * (a @ b)` in one op.
  public static func addmm(_ c: Tensor, _ a: Tensor, _ b: Tensor, alpha: Float = 1, beta: Float = 1) throws
    -> Tensor
  {
    try make("addmm") { mlxs_addmm($0, c.handle, a.handle, b.handle, alpha, beta) }
  }

  /// The same values as `dtype`.
  public func astype(_ dtype: DType) throws -> Tensor {
    if dtype == self.dtype { return self }
    return try Tensor.make("astype(\(dtype))") { mlxs_astype($0, handle, dtype.rawValue) }
  }

  /// Elements of `a` where `condition` holds, else of `b` (broadcasting).
  public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    try make("where") { mlxs_where($0, condition.handle, a.handle, b.handle) }
  }

  /// Values clamped to [low, high]; nil leaves a side open.
  public func clip(_ low: Double?, _ high: Double?) throws -> Tensor {
    let lo = try low.map { try like($0) }
    let hi = try high.map { try like($0) }
    return try Tensor.make("clip") {
      mlxs_clip($0, handle, lo?.handle ?? mlxs_array(ctx: nil), hi?.handle ?? mlxs_array(ctx: nil))
    }
  }

  // MARK: operators

  public static prefix func - (a: Tensor) throws -> Tensor { try a.negated() }
  public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(MLXS_ADD, b, "add") }
  public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(MLXS_SUB, b, "subtract") }
  public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(MLXS_MUL, b, "multiply") }
  public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(MLXS_DIV, b, "divide") }
  public static func + (a: Tensor, b: Double) throws -> Tensor { try a + a.like(b) }
  public static func - (a: Tensor, b: Double) throws -> Tensor { try a - a.like(b) }
  public static func * (a: Tensor, b: Double) throws -> Tensor { try a * a.like(b) }
  public static func / (a: Tensor, b: Double) throws -> Tensor { try a / a.like(b) }
  public static func + (a: Double, b: Tensor) throws -> Tensor { try b.like(a) + b }
  public static func - (a: Double, b: Tensor) throws -> Tensor { try b.like(a) - b }
  public static func * (a: Double, b: Tensor) throws -> Tensor { try b.like(a) * b }
  public static func / (a: Double, b: Tensor) throws -> Tensor { try b.like(a) / b }
}
