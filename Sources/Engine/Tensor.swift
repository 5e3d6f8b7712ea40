// The engine's array type: an ARC-managed handle on an MLX array. Operations build a lazy graph;
// `eval`, `item` and the readers below materialise it.
import CMLX

/// Element types the engine stores.
public enum DType: Int32, Codable, Sendable, CustomStringConvertible {
  case bool = 0, uint8 = 1, int32 = 2, int64 = 3, uint32 = 4
  case float16 = 5, bfloat16 = 6, float32 = 7, float64 = 8

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .bool, .uint8: return 1
    case .float16, .bfloat16: return 2
    case .int32, .uint32, .float32: return 4
    case .int64, .float64: return 8
    }
  }
  public var isFloatingPoint: Bool { [.float16, .bfloat16, .float32, .float64].contains(self) }
  public var description: String {
    switch self {
    case .bool: return "bool"
    case .uint8: return "uint8"
    case .int32: return "int32"
    case .int64: return "int64"
    case .uint32: return "uint32"
    case .float16: return "float16"
    case .bfloat16: return "bfloat16"
    case .float32: return "float32"
    case .float64: return "float64"
    }
  }
}

/// Swift scalar types a tensor can be built from and read back into.
public protocol TensorElement {
  static var dtype: DType { get }
}
extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension UInt32: TensorElement { public static var dtype: DType { .uint32 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }

/// An n-dimensional array computed by MLX.
public final class Tensor: @unchecked Sendable {
  let handle: mlxs_array

  /// Takes ownership of a handle returned by the shim.
  init(owning handle: mlxs_array) { self.handle = handle }

  deinit { mlxs_array_free(handle) }

  /// Runs one shim call that produces a new array and wraps it.
  @inline(__always)
  static func make(_ what: @autoclosure () -> String = "", _ body: (UnsafeMutablePointer<mlxs_array>) -> Int32)
    throws -> Tensor
  {
    _ = EngineThread.shared
    var out = mlxs_array(ctx: nil)
    try checkStatus(body(&out), what())
    return Tensor(owning: out)
  }

  // MARK: creation

  /// A tensor holding `values` (row-major) with the given shape.
  public convenience init<T: TensorElement>(_ values: [T], shape: [Int]) throws {
    let count = shape.reduce(1, *)
    guard count == values.count else {
      throw EngineError("\(values.count) values do not fill the shape \(shape) (\(count) elements)")
    }
    let h = try values.withUnsafeBytes { raw in
      try Tensor.make { out in
        let dims = shape.map(Int32.init)
        return mlxs_array_from_data(out, raw.baseAddress, dims, Int32(dims.count), T.dtype.rawValue)
      }
    }
    self.init(owning: try h.retained())
  }

  /// A one-dimensional tensor of `values`.
  public convenience init<T: TensorElement>(_ values: [T]) throws {
    try self.init(values, shape: [values.count])
  }

  /// A tensor over raw little-endian bytes of `dtype` (copied).
  public convenience init(bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) throws {
    let count = shape.reduce(1, *)
    guard bytes.count == count * dtype.size else {
      throw EngineError("\(bytes.count) bytes do not fill shape \(shape) of \(dtype)")
    }
    let h = try Tensor.make { out in
      let dims = shape.map(Int32.init)
      return mlxs_array_from_data(out, bytes.baseAddress, dims, Int32(dims.count), dtype.rawValue)
    }
    self.init(owning: try h.retained())
  }

  /// A zero-dimensional tensor.
  public static func scalar(_ value: Double, dtype: DType = .float32) throws -> Tensor {
    try make { mlxs_array_scalar($0, value, dtype.rawValue) }
  }

  /// A tensor of `shape` filled with `value`.
  public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) throws -> Tensor {
    try make { out in
      let dims = shape.map(Int32.init)
      return mlxs_full(out, dims, Int32(dims.count), value, dtype.rawValue)
    }
  }
  public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
    try full(shape, 0, dtype: dtype)
  }
  public static func ones(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
    try full(shape, 1, dtype: dtype)
  }
  /// `start, start+step, …` below `stop`.
  public static func arange(_ start: Double, _ stop: Double, step: Double = 1, dtype: DType = .int32)
    throws -> Tensor
  {
    try make { mlxs_arange($0, start, stop, step, dtype.rawValue) }
  }
  public static func arange(_ stop: Int, dtype: DType = .int32) throws -> Tensor {
    try arange(0, Double(stop), dtype: dtype)
  }

  func retained() throws -> mlxs_array {
    var out = mlxs_array(ctx: nil)
    mlxs_array_retain(&out, handle)
    return out
  }

  // MARK: description

  /// The size of each dimension.
  public var shape: [Int] {
    let n = Int(mlxs_array_ndim(handle))
    var dims = [Int32](repeating: 0, count: n)
    mlxs_array_shape(handle, &dims)
    return dims.map(Int.init)
  }
  public var ndim: Int { Int(mlxs_array_ndim(handle)) }
  public var size: Int { Int(mlxs_array_size(handle)) }
  public var dtype: DType { DType(rawValue: mlxs_array_dtype(handle)) ?? .float32 }

  // MARK: reading back

  /// Evaluates the tensor and returns its elements as `T` (converting the dtype if needed).
  public func toArray<T: TensorElement>(_ type: T.Type = T.self) throws -> [T] {
    if T.dtype == .float64 && dtype != .float64 {
      // GPUs have no float64, so widen on the host: exact from float32 and narrower floats, and from
      // integers through Int64.
      let wide = dtype.isFloatingPoint ? try toArray(Float.self).map(Double.init) : try toArray(Int64.self).map(Double.init)
      return wide as! [T]
    }
    let source = dtype == T.dtype ? self : try astype(T.dtype)
    let count = size
    return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
      try Engine.run {
        try checkStatus(mlxs_array_copy_to(source.handle, buffer.baseAddress, count * MemoryLayout<T>.stride))
      }
      initialized = count
    }
  }

  /// Evaluates the tensor and returns its raw bytes.
  public func bytes() throws -> [UInt8] {
    let n = size * dtype.size
    return try [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
      try Engine.run { try checkStatus(mlxs_array_copy_to(handle, buffer.baseAddress, n)) }
      initialized = n
    }
  }

  /// The elements as Float.
  public func floats() throws -> [Float] { try toArray(Float.self) }
  /// The elements as Double.
  public func doubles() throws -> [Double] { try toArray(Double.self) }

  /// The single element of a one-element tensor, as Double.
  public func item() throws -> Double {
    guard size == 1 else { throw EngineError("item() needs one element, the tensor has shape \(shape)") }
    return try doubles()[0]
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String { "Tensor(\(shape), \(dtype))" }
}
