// The noise of one FID evaluation: the generated samples are resampled with replacement and the FID
// recomputed against the same reference statistics; the spread of those FIDs is the evaluation's own
// standard error (not the training seed's), and FID ± 1.96 of it a 95% interval. (Not the percentile
// interval: a resample repeats samples, which biases its FID upward, so the percentiles can lie
// wholly above the FID they are meant to bracket; the spread is what carries over.)
//
// The distance is computed in the samples' space. With C the (n, d) features centred on their mean,
// a sample (or resample, rows k₁…kₙ of C) has centred rows A = H C_k (H = I - 11ᵀ/n), S1 = AᵀA/(n-1),
// and the non-zero eigenvalues of S1 S2 are those of the (n, n) symmetric A S2 Aᵀ/(n-1) = H G_kk H/(n-1)
// with G = C S2 Cᵀ. So G, K = C Cᵀ and w = C (mu - mu_ref) are computed once (one (n, d)·(d, d)
// product), and every resample costs O(n²) plus an (n, n) eigen-decomposition, not O(d³).
import CLinalg
import Datasets
import Foundation
import TorchFormats

/// One set of generated features against one reference, in the samples' space (see the file header).
struct SampleSpaceFID {
  let n: Int
  /// C S2 Cᵀ and C Cᵀ, (n, n) row-major.
  let g: [Double], k: [Double]
  /// C (mu - mu_ref), (n,).
  let w: [Double]
  /// |mu - mu_ref|² and tr S2.
  let meanDistance: Double, referenceTrace: Double

  init(_ features: [Double], count n: Int, reference: FeatureStatistics) {
    let d = reference.dimension
    precondition(features.count == n * d && n >= 2)
    var mu = [Double](repeating: 0, count: d)
    for i in 0..<n { for j in 0..<d { mu[j] += features[i * d + j] } }
    for j in 0..<d { mu[j] /= Double(n) }
    var c = features
    for i in 0..<n { for j in 0..<d { c[i * d + j] -= mu[j] } }
    let u = zip(mu, reference.mu).map { $0 - $1 }
    var cs = [Double](repeating: 0, count: n * d), g = [Double](repeating: 0, count: n * n), k = g
    clinalg_gemm_nt(Int32(n), Int32(d), Int32(d), c, reference.sigma, &cs)  // C S2 (S2 symmetric)
    clinalg_gemm_nt(Int32(n), Int32(n), Int32(d), cs, c, &g)                // C S2 Cᵀ
    clinalg_gemm_nt(Int32(n), Int32(n), Int32(d), c, c, &k)                 // C Cᵀ
    self.n = n
    (self.g, self.k) = (g, k)
    w = (0..<n).map { i in (0..<d).reduce(0) { $0 + c[i * d + $1] * u[$1] } }
    meanDistance = u.map { $0 * $0 }.reduce(0, +)
    referenceTrace = (0..<d).map { reference.sigma[$0 * d + $0] }.reduce(0, +)
  }

  /// The FID of the samples at rows `rows` (n of them, repeats allowed).
  func distance(rows: [Int]) throws -> Double {
    // The resample's mean is mu + δ with δ = mean of its rows of C: |mu + δ - mu_ref|² = |u|² + 2 u·δ + |δ|².
    var kSum = 0.0, kDiagonal = 0.0
    var m = [Double](repeating: 0, count: n * n)
    for (a, ka) in rows.enumerated() {
      kDiagonal += k[ka * n + ka]
      for (b, kb) in rows.enumerated() {
        m[a * n + b] = g[ka * n + kb]
        kSum += k[ka * n + kb]
      }
    }
    let uDelta = rows.map { w[$0] }.reduce(0, +) / Double(n), deltaSquared = kSum / Double(n * n)
    // H G_kk H: subtract row and column means, add back the grand mean (G_kk is symmetric).
    let rowMeans = (0..<n).map { a in (0..<n).reduce(0) { $0 + m[a * n + $1] } / Double(n) }
    let grand = rowMeans.reduce(0, +) / Double(n)
    for a in 0..<n { for b in 0..<n { m[a * n + b] = (m[a * n + b] - rowMeans[a] - rowMeans[b] + grand) / Double(n - 1) } }
    var eigenvalues = [Double](repeating: 0, count: n)
    let info = clinalg_symmetric_eigen(Int32(n), &m, &eigenvalues)
    guard info == 0 else { throw UntrustedFileError("the eigen-decomposition failed (LAPACK info \(info))") }
    let traceSqrt = eigenvalues.map { $0 > 0 ? $0.squareRoot() : 0 }.reduce(0, +)
    let sampleTrace = (kDiagonal - kSum / Double(n)) / Double(n - 1)  // tr(H K_kk H) / (n-1)
    return meanDistance + 2 * uDelta + deltaSquared + sampleTrace + referenceTrace - 2 * traceSqrt
  }
}

/// The FID of `count` feature vectors (rows of `features`) against `reference`, computed in the
/// samples' space (see the file header). Equal to `frechetDistance` of their statistics.
public func sampleSpaceFrechetDistance(_ features: [Double], count n: Int, reference: FeatureStatistics) throws -> Double {
  try SampleSpaceFID(features, count: n, reference: reference).distance(rows: Array(0..<n))
}

/// The bootstrap standard error of the FID of `features` against `reference`, from `rounds` resamples
/// drawn with a fixed seed (so the same evaluation gives the same value).
public func bootstrapFIDStandardError(_ features: [Float], count n: Int, reference: FeatureStatistics, rounds: Int = 100,
                                      seed: UInt64 = 0) throws -> Double {
  precondition(features.count == n * reference.dimension && rounds >= 2)
  let space = SampleSpaceFID(features.map(Double.init), count: n, reference: reference)
  var generator = SplitMix64(seed: seed)
  let fids = try (0..<rounds).map { _ in
    try space.distance(rows: (0..<n).map { _ in Int(generator.next() % UInt64(n)) })
  }
  let mean = fids.reduce(0, +) / Double(rounds)
  return (fids.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rounds - 1)).squareRoot()
}
