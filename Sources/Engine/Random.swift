// Random numbers from explicit keys (MLX's threefry). A key is data: it is split, stored in
// checkpoints and passed into compiled functions, never hidden in global state.
import CMLX

/// A PRNG key: a (2,) uint32 tensor. The same key always gives the same numbers.
public struct PRNGKey: @unchecked Sendable {
  public let tensor: Tensor
  public init(_ tensor: Tensor) { self.tensor = tensor }
  /// The root key for `seed`.
  public init(seed: UInt64) throws {
    tensor = try Tensor.make("random.key") { mlxs_random_key($0, seed) }
  }
  /// `count` independent keys derived from this one.
  public func split(_ count: Int = 2) throws -> [PRNGKey] {
    let keys = try Tensor.make("random.split") { mlxs_random_split($0, tensor.handle, Int32(count)) }
    return try (0..<count).map { i in PRNGKey(try keys.slice(axis: 0, i..<(i + 1)).reshaped([2])) }
  }
  /// The key's two words (to store it).
  public func words() throws -> [UInt32] { try tensor.toArray(UInt32.self) }
  /// A key from stored words.
  public init(words: [UInt32]) throws { tensor = try Tensor(words, shape: [2]) }
}

/// Sampling functions; every one takes the key it draws from.
public enum Random {
  static func dims(_ shape: [Int]) -> [Int32] { shape.map(Int32.init) }

  /// Uniform on [low, high).
  public static func uniform(_ shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32,
                             key: PRNGKey) throws -> Tensor {
    let d = dims(shape)
    return try Tensor.make("random.uniform") {
      mlxs_random_uniform($0, low, high, d, Int32(d.count), dtype.rawValue, key.tensor.handle)
    }
  }
  /// Normal with mean `loc` and standard deviation `scale`.
  public static func normal(_ shape: [Int], loc: Double = 0, scale: Double = 1, dtype: DType = .float32,
                            key: PRNGKey) throws -> Tensor {
    let d = dims(shape)
    return try Tensor.make("random.normal") {
      mlxs_random_normal($0, d, Int32(d.count), dtype.rawValue, loc, scale, key.tensor.handle)
    }
  }
  /// Standard normal truncated to [lower, upper].
  public static func truncatedNormal(_ shape: [Int], lower: Double = -2, upper: Double = 2,
                                     dtype: DType = .float32, key: PRNGKey) throws -> Tensor {
    let d = dims(shape)
    return try Tensor.make("random.truncated_normal") {
      mlxs_random_truncated_normal($0, lower, upper, d, Int32(d.count), dtype.rawValue, key.tensor.handle)
    }
  }
  /// True with probability p.
  public static func bernoulli(_ shape: [Int], p: Double = 0.5, key: PRNGKey) throws -> Tensor {
    let d = dims(shape)
    return try Tensor.make("random.bernoulli") {
      mlxs_random_bernoulli($0, p, d, Int32(d.count), key.tensor.handle)
    }
  }
  /// Integers in [low, high).
  public static func randint(_ shape: [Int], low: Int, high: Int, dtype: DType = .int32,
                             key: PRNGKey) throws -> Tensor {
    let d = dims(shape)
    return try Tensor.make("random.randint") {
      mlxs_random_randint($0, Int32(low), Int32(high), d, Int32(d.count), dtype.rawValue, key.tensor.handle)
    }
  }
  /// A random permutation of 0..<n.
  public static func permutation(_ n: Int, key: PRNGKey) throws -> Tensor {
    try Tensor.make("random.permutation") { mlxs_random_permutation($0, Int32(n), key.tensor.handle) }
  }
}
