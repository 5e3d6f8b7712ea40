// The noise of one FID evaluation: the generated samples are resampled with replacement and the FID
// recomputed against the same reference statistics; the spread of those FIDs is the evaluation's own
// standard error (not the training seed's), and FID ± 1.96 of it a 95% interval. (Not the percentile
// interval: a resample repeats samples, which biases its FID upward, so the percentiles can lie
// wholly above the FID they are meant to bracket; the spread is what carries over.)
//
// Each resample costs O(n d²) instead of O(d³): with A the (n, d) centred features, S1 = AᵀA / (n-1),
// and the non-zero eigenvalues of S1 S2 are those of the (n, n) symmetric A S2 Aᵀ / (n-1), so
// tr sqrt(S1 S2) needs one (n, d)·(d, d) product and an (n, n) eigen-decomposition.
import CLinalg
import Datasets
import Foundation

/// The FID of `count` feature vectors (rows of `features`) against `reference`, computed in the
/// samples' space (see the file header). Equal to `frechetDistance` of their statistics.
public func sampleSpaceFrechetDistance(_ features: [Double], count n: Int, reference: FeatureStatistics) throws -> Double {
  let d = reference.dimension
  precondition(features.count == n * d && n >= 2)
  var mu = [Double](repeating: 0, count: d)
  for i in 0..<n { for j in 0..<d { mu[j] += features[i * d + j] } }
  for j in 0..<d { mu[j] /= Double(n) }
  var a = features
  for i in 0..<n { for j in 0..<d { a[i * d + j] -= mu[j] } }
  let diff = zip(mu, reference.mu).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
  let trA = a.map { $0 * $0 }.reduce(0, +) / Double(n - 1)
  let trB = (0..<d).map { reference.sigma[$0 * d + $0] }.reduce(0, +)
  var b = [Double](repeating: 0, count: n * d), m = [Double](repeating: 0, count: n * n)
  clinalg_gemm_nt(Int32(n), Int32(d), Int32(d), a, reference.sigma, &b)  // A S2 (S2 symmetric)
  clinalg_gemm_nt(Int32(n), Int32(n), Int32(d), b, a, &m)                 // A S2 Aᵀ
  for i in 0..<n { for j in 0..<i { let s = (m[i * n + j] + m[j * n + i]) / 2; m[i * n + j] = s; m[j * n + i] = s } }
  var w = [Double](repeating: 0, count: n)
  let info = clinalg_symmetric_eigen(Int32(n), &m, &w)
  guard info == 0 else { throw UntrustedFileError("the eigen-decomposition failed (LAPACK info \(info))") }
  let traceSqrt = w.map { $0 > 0 ? ($0 / Double(n - 1)).squareRoot() : 0 }.reduce(0, +)
  return diff + trA + trB - 2 * traceSqrt
}

/// The bootstrap standard error of the FID of `features` against `reference`, from `rounds` resamples
/// drawn with a fixed seed (so the same evaluation gives the same value).
public func bootstrapFIDStandardError(_ features: [Float], count n: Int, reference: FeatureStatistics, rounds: Int = 100,
                                      seed: UInt64 = 0) throws -> Double {
  let d = reference.dimension
  precondition(features.count == n * d && rounds >= 2)
  var generator = SplitMix64(seed: seed)
  var fids: [Double] = []
  var resampled = [Double](repeating: 0, count: n * d)
  for _ in 0..<rounds {
    for i in 0..<n {
      let k = Int(generator.next() % UInt64(n))
      for j in 0..<d { resampled[i * d + j] = Double(features[k * d + j]) }
    }
    fids.append(try sampleSpaceFrechetDistance(resampled, count: n, reference: reference))
  }
  let mean = fids.reduce(0, +) / Double(rounds)
  return (fids.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rounds - 1)).squareRoot()
}
