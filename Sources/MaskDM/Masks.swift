// Masks of the pre-training stage (the authors' datasets/masking_generator.py), sampled with tensor
// ops from an explicit key so they can be drawn inside a compiled training step. 1 = masked.
//   patch:    int(ratio * N) patches, uniformly without replacement;
//   block(b): the grid cut into b x b-patch blocks, int(ratio * N) // b² blocks masked;
//   crop(c):  one visible c x c window at a uniform position, everything else masked.
import Engine

/// A masking strategy: the one mask model of configurations, plans and training (the authors' three
/// keys, MASK_TYPE, MASK_BLOCK_SIZE and MASK_CROP_SIZE, are read into it and written from it).
public enum MaskKind: Codable, Hashable, Sendable {
  case patch
  /// Blocks of b x b patches; nil when a configuration names block masking without a size (refused
  /// when masks are drawn).
  case block(Int?)
  /// One visible c x c window; nil: the window that keeps the unmasked share of the patches visible
  /// (the authors' MASK_CROP_SIZE -1).
  case crop(Int?)

  /// The kind's name: patch, block or crop.
  public var name: String {
    switch self {
    case .patch: return "patch"
    case .block: return "block"
    case .crop: return "crop"
    }
  }
}

/// A strategy and its ratio (ignored by crop, whose window fixes the visible share).
public struct MaskSpec: Codable, Equatable, Sendable {
  public var kind: MaskKind
  public var ratio: Double
  public init(kind: MaskKind, ratio: Double) {
    self.kind = kind
    self.ratio = ratio
  }

  /// The kind with its size on a `grid` x `grid` patch grid: a crop without one gets the window that
  /// keeps 1 - ratio of the patches; a block without one is an error.
  public func sized(grid: Int) throws -> MaskKind {
    switch kind {
    case .patch, .block(_?), .crop(_?): return kind
    case .block(nil): throw ModelError("block masking needs a block size (dataset.MASK_BLOCK_SIZE, e.g. 2, 4 or 8 patches)")
    case .crop(nil): return .crop(max(1, Int((Double(grid * grid) * (1 - ratio)).squareRoot())))
    }
  }

  /// How many patches stay visible on a `grid` x `grid` patch grid (the same for every sample).
  public func visibleCount(grid: Int) throws -> Int {
    let n = grid * grid
    guard ratio >= 0, ratio < 1 else { throw ModelError("the mask ratio must be in [0, 1), got \(ratio)") }
    switch try sized(grid: grid) {
    case .patch:
      return n - Int(ratio * Double(n))
    case let .block(b?):
      guard b > 0, grid % b == 0 else {
        throw ModelError("block size \(b) must divide the patch grid \(grid)x\(grid); choose a divisor of \(grid)")
      }
      let blocks = (grid / b) * (grid / b)
      return (blocks - Int(ratio * Double(n)) / (b * b)) * b * b
    case let .crop(c?):
      guard c > 0, c <= grid else {
        throw ModelError("crop window \(c) must be between 1 and the patch grid \(grid)")
      }
      return c * c
    case .block(nil), .crop(nil):
      throw ModelError("the mask has no size")  // `sized` gives every kind its size
    }
  }
}

/// The visible patch indices alone (B, K) int32, ascending per row: what training needs of a mask.
public func sampleVisible(_ spec: MaskSpec, grid: Int, batch: Int, key: PRNGKey) throws -> Tensor {
  let n = grid * grid
  let keep = try spec.visibleCount(grid: grid)
  let visible: Tensor
  switch try spec.sized(grid: grid) {
  case .block(nil), .crop(nil):
    throw ModelError("the mask has no size")  // `sized` gives every kind its size
  case .patch:
    let order = try Random.uniform([batch, n], key: key).argsort(axis: 1)  // a random permutation per row
    visible = try order.slice(axis: 1, 0..<keep).sorted(axis: 1)
  case let .block(b?):
    let side = grid / b
    let keepBlocks = keep / (b * b)
    let chosen = try Random.uniform([batch, side * side], key: key).argsort(axis: 1).slice(axis: 1, 0..<keepBlocks)
    // Block k covers rows (k / side) * b ..< +b and columns (k % side) * b ..< +b of the grid.
    let top = try chosen.floorDivide(Tensor.scalar(Double(side), dtype: .int32)) * Double(b)
    let left = try chosen.remainder(Tensor.scalar(Double(side), dtype: .int32)) * Double(b)
    let offsets = try Tensor((0..<(b * b)).map { Int32(($0 / b) * grid + $0 % b) }, shape: [1, 1, b * b])
    let first = try (top * Double(grid) + left).expandedDims(at: 2)  // (B, keepBlocks, 1)
    visible = try (first + offsets).reshaped([batch, keepBlocks * b * b]).sorted(axis: 1)
  case let .crop(c?):
    let keys = try key.split(2)
    let y = try Random.randint([batch, 1], low: 0, high: grid - c + 1, key: keys[0])
    let x = try Random.randint([batch, 1], low: 0, high: grid - c + 1, key: keys[1])
    let offsets = try Tensor((0..<(c * c)).map { Int32(($0 / c) * grid + $0 % c) }, shape: [1, c * c])
    visible = try y * Double(grid) + x + offsets  // ascending: row-major inside the window
  }
  return try visible.astype(.int32)
}

/// The patches of `images` (B, C, H, W) at the indices `visible` (B, K): (B, K, p*p*C) in
/// `(p1 p2 C)` order, what an MDSM loss and the model's masked input take.
public func visiblePatches(_ images: Tensor, _ visible: Tensor, patchSize: Int) throws -> Tensor {
  try gatherPatches(patchify(images, patchSize: patchSize), visible)
}

/// (B, N) int32 with 0 at the visible indices and 1 elsewhere.
public func maskFrom(visible: Tensor, patches: Int) throws -> Tensor {
  let b = visible.shape[0]
  let ones = try Tensor.ones([b, patches], dtype: .int32)
  return try ones.putAlongAxis(visible.astype(.int32), values: Tensor.zeros(visible.shape, dtype: .int32), axis: 1)
}

/// The visible (0) indices of each row of a (B, N) mask, ascending; every row must have the same count.
public func visibleIndices(fromMask mask: Tensor) throws -> Tensor {
  let rows = try mask.astype(.int32).toArray(Int32.self)
  let s = mask.shape
  var out: [Int32] = []
  var count: Int?
  for r in 0..<s[0] {
    let v = (0..<s[1]).filter { rows[r * s[1] + $0] == 0 }.map(Int32.init)
    guard count == nil || count == v.count else {
      throw ModelError("every mask in a batch must keep the same number of patches (row 0 keeps \(count!), row \(r) keeps \(v.count))")
    }
    count = v.count
    out += v
  }
  return try Tensor(out, shape: [s[0], count ?? 0])
}
