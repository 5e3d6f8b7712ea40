// FID statistics in float64 on the CPU (MLX's GPU has no float64): mean and covariance (N - 1), the
// Fréchet distance |mu1 - mu2|² + tr S1 + tr S2 - 2 tr sqrt(S1 S2) with the trace term taken as the sum
// of square roots of the eigenvalues of the symmetric sqrt(S1) S2 sqrt(S1) (tiny negatives clamped),
// and KID (Bińkowski et al.): unbiased MMD² with the kernel (x·y / d + 1)³ over random subsets.
import CLinalg
import Datasets
import Foundation
import TorchFormats

/// Mean and covariance of features.
public struct FeatureStatistics: Equatable {
  public var mu: [Double]
  /// d x d, row-major.
  public var sigma: [Double]
  public var count: Int
  /// The resize the features were taken with, when known (recorded in .npz files this tool writes).
  public var resize: FIDResize? = nil
  public var dimension: Int { mu.count }

  public init(mu: [Double], sigma: [Double], count: Int) {
    (self.mu, self.sigma, self.count) = (mu, sigma, count)
  }

  /// Statistics of `count` feature vectors of `dimension` floats.
  public init(features: [Float], count: Int, dimension: Int = 2048) {
    precondition(features.count == count * dimension)
    var mu = [Double](repeating: 0, count: dimension)
    for i in 0..<count { for j in 0..<dimension { mu[j] += Double(features[i * dimension + j]) } }
    for j in 0..<dimension { mu[j] /= Double(max(count, 1)) }
    var centred = [Double](repeating: 0, count: count * dimension)
    for i in 0..<count { for j in 0..<dimension { centred[i * dimension + j] = Double(features[i * dimension + j]) - mu[j] } }
    var sigma = [Double](repeating: 0, count: dimension * dimension)
    clinalg_gram(Int32(count), Int32(dimension), centred, Double(max(count - 1, 1)), &sigma)
    self.init(mu: mu, sigma: sigma, count: count)
  }
}

/// sqrt of a symmetric positive semi-definite matrix through its eigen-decomposition.
func symmetricSqrt(_ m: [Double], _ d: Int) throws -> [Double] {
  var a = m
  var w = [Double](repeating: 0, count: d)
  let info = clinalg_symmetric_eigen(Int32(d), &a, &w)
  guard info == 0 else { throw UntrustedFileError("the eigen-decomposition failed (LAPACK info \(info))") }
  // a holds the eigenvectors V as columns (column-major = rows of a are V^T's rows): sqrt = V diag(sqrt w) V^T.
  var out = [Double](repeating: 0, count: d * d)
  let roots = w.map { $0 > 0 ? $0.squareRoot() : 0 }
  var scaled = a  // V^T rows scaled: (diag(sqrt w) V^T)
  for k in 0..<d { for j in 0..<d { scaled[k * d + j] *= roots[k] } }
  // out = V (diag V^T) where V = transpose of a (a is V^T in row-major terms).
  var vt = [Double](repeating: 0, count: d * d)
  for i in 0..<d { for j in 0..<d { vt[i * d + j] = a[j * d + i] } }
  clinalg_matmul(Int32(d), vt, scaled, &out)
  return out
}

extension FeatureStatistics {
  /// Refuses statistics no set of images can have: non-finite values (checked by `frechetDistance`
  /// too), a covariance that is not symmetric or not positive semi-definite (a file's, checked once
  /// when it is read: it costs an eigen-decomposition).
  public func checkCovariance(name: String) throws {
    try checkFinite(name: name)
    let d = dimension
    let scale = sigma.lazy.map(Swift.abs).max() ?? 0
    for i in 0..<d { for j in 0..<i where Swift.abs(sigma[i * d + j] - sigma[j * d + i]) > 1e-6 * scale + 1e-12 {
      throw UntrustedFileError("\(name): sigma is not symmetric (entries [\(i), \(j)] and [\(j), \(i)] differ), so it is no covariance; recompute it with maskdm fid stats")
    } }
    var a = sigma
    var w = [Double](repeating: 0, count: d)
    guard clinalg_symmetric_eigen(Int32(d), &a, &w) == 0 else { throw UntrustedFileError("\(name): the eigen-decomposition of sigma failed") }
    let largest = w.map(Swift.abs).max() ?? 0
    if let smallest = w.min(), smallest < -1e-6 * largest - 1e-12 {
      throw UntrustedFileError("\(name): sigma has a negative eigenvalue (\(smallest)), so it is no covariance; recompute it with maskdm fid stats")
    }
  }

  /// Refuses NaN or infinite entries, naming the array.
  func checkFinite(name: String) throws {
    if let i = mu.firstIndex(where: { !$0.isFinite }) { throw UntrustedFileError("\(name): mu[\(i)] is \(mu[i]); statistics must be finite") }
    if let i = sigma.firstIndex(where: { !$0.isFinite }) {
      throw UntrustedFileError("\(name): sigma[\(i / dimension), \(i % dimension)] is \(sigma[i]); statistics must be finite")
    }
  }
}

/// The Fréchet distance between two feature distributions.
public func frechetDistance(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
  let d = a.dimension
  guard b.dimension == d, a.sigma.count == d * d, b.sigma.count == d * d else {
    throw UntrustedFileError("statistics of different dimensions (\(a.dimension) and \(b.dimension))")
  }
  try a.checkFinite(name: "the first statistics")
  try b.checkFinite(name: "the second statistics")
  let diff = zip(a.mu, b.mu).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
  let trA = (0..<d).map { a.sigma[$0 * d + $0] }.reduce(0, +)
  let trB = (0..<d).map { b.sigma[$0 * d + $0] }.reduce(0, +)
  let root = try symmetricSqrt(a.sigma, d)
  var tmp = [Double](repeating: 0, count: d * d), product = [Double](repeating: 0, count: d * d)
  clinalg_matmul(Int32(d), root, b.sigma, &tmp)
  clinalg_matmul(Int32(d), tmp, root, &product)
  // Symmetrise against rounding before the eigen-decomposition.
  for i in 0..<d { for j in 0..<i { let m = (product[i * d + j] + product[j * d + i]) / 2; product[i * d + j] = m; product[j * d + i] = m } }
  var w = [Double](repeating: 0, count: d)
  let info = clinalg_symmetric_eigen(Int32(d), &product, &w)
  guard info == 0 else { throw UntrustedFileError("the eigen-decomposition failed (LAPACK info \(info))") }
  let traceSqrt = w.map { $0 > 0 ? $0.squareRoot() : 0 }.reduce(0, +)
  let fid = diff + trA + trB - 2 * traceSqrt
  // A distance is ≥ 0; rounding can leave a tiny negative value for equal statistics.
  guard fid.isFinite, fid > -1e-6 * Swift.max(trA + trB, 1) else {
    throw UntrustedFileError("the FID came out as \(fid), which no two sets of images give: check that both sides are covariance statistics")
  }
  return Swift.max(fid, 0)
}

/// KID: the mean and standard deviation over `subsets` random subsets (of min(n, subsetSize)
/// vectors) of the unbiased MMD² with the cubic polynomial kernel. The kernel matrices are computed once
/// (float64 GEMM, at most 5000 vectors per side) and subsets sum their entries.
public func kernelInceptionDistance(_ a: [Float], _ b: [Float], dimension: Int = 2048, subsets: Int = 100,
                                    subsetSize: Int = 1000, seed: UInt64 = 0) -> (mean: Double, std: Double) {
  var rng = SplitMix64(seed: seed)
  func pool(_ x: [Float]) -> [Double] {
    let n = x.count / dimension
    let keep = n <= 5000 ? Array(0..<n) : Array((0..<n).shuffled(using: &rng).prefix(5000))
    var out = [Double](repeating: 0, count: keep.count * dimension)
    for (r, i) in keep.enumerated() { for k in 0..<dimension { out[r * dimension + k] = Double(x[i * dimension + k]) } }
    return out
  }
  let (x, y) = (pool(a), pool(b))
  let (na, nb) = (x.count / dimension, y.count / dimension)
  let m = min(min(na, nb), subsetSize)
  guard m >= 2 else { return (.nan, .nan) }
  func kernelMatrix(_ p: [Double], _ np: Int, _ q: [Double], _ nq: Int) -> [Double] {
    var k = [Double](repeating: 0, count: np * nq)
    clinalg_gemm_nt(Int32(np), Int32(nq), Int32(dimension), p, q, &k)
    return k.map { let v = $0 / Double(dimension) + 1; return v * v * v }
  }
  let kxx = kernelMatrix(x, na, x, na), kyy = kernelMatrix(y, nb, y, nb), kxy = kernelMatrix(x, na, y, nb)
  var values: [Double] = []
  for _ in 0..<subsets {
    let ia = Array((0..<na).shuffled(using: &rng).prefix(m)), ib = Array((0..<nb).shuffled(using: &rng).prefix(m))
    var sxx = 0.0, syy = 0.0, sxy = 0.0
    for p in 0..<m {
      for q in 0..<m {
        sxy += kxy[ia[p] * nb + ib[q]]
        if p != q {
          sxx += kxx[ia[p] * na + ia[q]]
          syy += kyy[ib[p] * nb + ib[q]]
        }
      }
    }
    let mm = Double(m)
    values.append((sxx + syy) / (mm * (mm - 1)) - 2 * sxy / (mm * mm))
  }
  let mean = values.reduce(0, +) / Double(values.count)
  let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(values.count - 1, 1))
  return (mean, variance.squareRoot())
}
