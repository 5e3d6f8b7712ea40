// Shape manipulation, slicing, joining and gathers/scatters.
import CMLX

extension Tensor {
  /// The same elements in a new shape (one dimension may be -1).
  public func reshaped(_ shape: [Int]) throws -> Tensor {
    let dims = shape.map(Int32.init)
    return try Tensor.make("reshape \(self.shape) to \(shape)") {
      mlxs_reshape($0, handle, dims, Int32(dims.count))
    }
  }
  /// Axes permuted; reversed when `axes` is nil.
  public func transposed(_ axes: [Int]? = nil) throws -> Tensor {
    let ax = (axes ?? Array((0..<ndim).reversed())).map(Int32.init)
    return try Tensor.make("transpose") { mlxs_transpose($0, handle, ax, Int32(ax.count)) }
  }
  /// The same elements laid out row-major in a buffer of their own (a transpose or slice is otherwise a
  /// strided view of its source, and the CPU kernels copy such views on every use).
  public func rowMajor() throws -> Tensor {
    try Tensor.make("row_major") { mlxs_row_major($0, handle) }
  }
  /// The last two axes swapped.
  public func swappedLastAxes() throws -> Tensor {
    var axes = Array(0..<ndim)
    axes.swapAt(ndim - 1, ndim - 2)
    return try transposed(axes)
  }
  public func broadcast(to shape: [Int]) throws -> Tensor {
    let dims = shape.map(Int32.init)
    return try Tensor.make("broadcast \(self.shape) to \(shape)") {
      mlxs_broadcast_to($0, handle, dims, Int32(dims.count))
    }
  }
  public func expandedDims(at axis: Int) throws -> Tensor {
    try Tensor.make("expand_dims") { mlxs_expand_dims($0, handle, Int32(axis)) }
  }
  /// Size-1 axes removed (all of them when `axes` is nil).
  public func squeezed(_ axes: [Int]? = nil) throws -> Tensor {
    let ax = (axes ?? []).map(Int32.init)
    return try Tensor.make("squeeze") { mlxs_squeeze($0, handle, ax, axes == nil ? -1 : Int32(ax.count)) }
  }
  public func flattened() throws -> Tensor { try reshaped([-1]) }

  /// Elements `start[i] ..< stop[i]` by `strides[i]` on every axis.
  public func slice(start: [Int], stop: [Int], strides: [Int]? = nil) throws -> Tensor {
    let st = strides ?? Array(repeating: 1, count: start.count)
    let (a, b, c) = (start.map(Int32.init), stop.map(Int32.init), st.map(Int32.init))
    return try Tensor.make("slice \(shape)") { mlxs_slice($0, handle, a, b, c, Int32(a.count)) }
  }
  /// A range of one axis, the other axes whole.
  public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
    let s = shape
    let ax = axis < 0 ? axis + s.count : axis
    var start = Array(repeating: 0, count: s.count)
    var stop = s
    start[ax] = range.lowerBound
    stop[ax] = range.upperBound
    return try slice(start: start, stop: stop)
  }
  /// This tensor with `update` written over the slice `start ..< stop`.
  public func sliceUpdated(_ update: Tensor, start: [Int], stop: [Int], strides: [Int]? = nil) throws -> Tensor {
    let st = strides ?? Array(repeating: 1, count: start.count)
    let (a, b, c) = (start.map(Int32.init), stop.map(Int32.init), st.map(Int32.init))
    return try Tensor.make("slice_update") {
      mlxs_slice_update($0, handle, update.handle, a, b, c, Int32(a.count))
    }
  }

  public static func concatenate(_ tensors: [Tensor], axis: Int = 0) throws -> Tensor {
    let hs = tensors.map(\.handle)
    return try make("concatenate") { mlxs_concatenate($0, hs, Int32(hs.count), Int32(axis)) }
  }
  public static func stack(_ tensors: [Tensor], axis: Int = 0) throws -> Tensor {
    let hs = tensors.map(\.handle)
    return try make("stack") { mlxs_stack($0, hs, Int32(hs.count), Int32(axis)) }
  }
  /// Pieces cut before each of `indices` along `axis`.
  public func split(at indices: [Int], axis: Int = 0) throws -> [Tensor] {
    let idx = indices.map(Int32.init)
    var v = mlxs_vec(ctx: nil)
    try checkStatus(mlxs_split(&v, handle, idx, Int32(idx.count), Int32(axis)), "split")
    return try Tensor.unpack(v)
  }
  /// Padded with `value`: `widths[i] = (before, after)` for axis i.
  public func padded(_ widths: [(Int, Int)], value: Double = 0) throws -> Tensor {
    let axes = (0..<widths.count).map(Int32.init)
    let lo = widths.map { Int32($0.0) }
    let hi = widths.map { Int32($0.1) }
    return try Tensor.make("pad") { mlxs_pad($0, handle, axes, lo, hi, Int32(axes.count), value) }
  }
  /// A strided view over the (contiguous) elements (strides in elements).
  public func asStrided(shape: [Int], strides: [Int], offset: Int = 0) throws -> Tensor {
    let dims = shape.map(Int32.init)
    let st = strides.map(Int64.init)
    return try Tensor.make("as_strided") { mlxs_as_strided($0, handle, dims, st, Int32(dims.count), offset) }
  }

  /// Elements at `indices` along `axis`.
  public func take(_ indices: Tensor, axis: Int) throws -> Tensor {
    try Tensor.make("take") { mlxs_take($0, handle, indices.handle, Int32(axis)) }
  }
  public func takeAlongAxis(_ indices: Tensor, axis: Int) throws -> Tensor {
    try Tensor.make("take_along_axis") { mlxs_take_along_axis($0, handle, indices.handle, Int32(axis)) }
  }
  public func putAlongAxis(_ indices: Tensor, values: Tensor, axis: Int) throws -> Tensor {
    try Tensor.make("put_along_axis") {
      mlxs_put_along_axis($0, handle, indices.handle, values.handle, Int32(axis))
    }
  }

  /// Moves a vector of arrays out of the shim into Swift tensors.
  static func unpack(_ v: mlxs_vec) throws -> [Tensor] {
    defer { mlxs_vec_free(v) }
    return try (0..<Int(mlxs_vec_size(v))).map { i in try make { mlxs_vec_get($0, v, Int32(i)) } }
  }
}
