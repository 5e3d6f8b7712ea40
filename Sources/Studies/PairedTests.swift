// The tests behind a study's verdicts, on per-seed differences `variant - baseline` of a metric where
// lower is better: the paired t test of "no difference" (two-sided) and the two one-sided tests (TOST,
// Schuirmann 1987) of "the difference lies outside ±margin". Both use Student's t with n - 1 degrees of
// freedom (`Uncertainty.swift`); the normal distribution serves the sequential boundaries.
import Foundation

/// One comparison's evidence: the paired differences and the p-values of its two tests.
public struct PairedTest: Codable, Equatable, Sendable {
  /// Mean of the per-seed differences.
  public var mean: Double
  /// Standard error of the mean (s / √n); 0 when every difference is the same.
  public var standardError: Double
  public var n: Int
  /// Two-sided p of "no difference".
  public var pDifference: Double
  /// p of "the difference is at least `margin` in size" (the larger of the two one-sided p's); 1 without a margin.
  public var pEquivalence: Double
  /// The equivalence margin in the metric's units (nil: no equivalence test).
  public var margin: Double?

  /// The tests of `differences` (n ≥ 2) with an equivalence margin of `margin` (> 0) in the metric's units.
  public init?(differences: [Double], margin: Double?) {
    guard differences.count >= 2, differences.allSatisfy(\.isFinite) else { return nil }
    let n = Double(differences.count)
    mean = differences.reduce(0, +) / n
    standardError = (sampleStandardDeviation(differences) ?? 0) / n.squareRoot()
    self.n = differences.count
    self.margin = margin.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
    let df = n - 1
    pDifference = twoSidedTP(mean, standardError, df: df)
    if let m = self.margin {
      // H0a: μ ≤ -m (rejected by a large (mean + m) / se), H0b: μ ≥ m (rejected by a small (mean - m) / se).
      pEquivalence = max(upperTP(mean + m, standardError, df: df), upperTP(m - mean, standardError, df: df))
    } else {
      pEquivalence = 1
    }
  }

  /// Which way the difference points (lower is better).
  public var direction: Verdict { mean < 0 ? .better : .worse }
}

/// P(T ≥ x / se) for Student's t; a zero standard error gives 0 or 1 by the sign of x.
func upperTP(_ x: Double, _ se: Double, df: Double) -> Double {
  guard se > 0 else { return x > 0 ? 0 : 1 }
  return 1 - studentTCDF(x / se, degreesOfFreedom: df)
}

/// P(|T| ≥ |x| / se).
func twoSidedTP(_ x: Double, _ se: Double, df: Double) -> Double {
  guard se > 0 else { return x == 0 ? 1 : 0 }
  return min(1, 2 * upperTP(abs(x), se, df: df))
}

/// Φ(x), the standard normal CDF.
public func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

/// Φ⁻¹(p), by bisection on `normalCDF` (to 1e-13; it is called a few times per boundary).
public func normalQuantile(_ p: Double) -> Double {
  precondition(p > 0 && p < 1)
  var (lo, hi) = (-40.0, 40.0)
  for _ in 0..<200 {
    let mid = (lo + hi) / 2
    if normalCDF(mid) < p { lo = mid } else { hi = mid }
    if hi - lo < 1e-13 { break }
  }
  return (lo + hi) / 2
}

/// The hypotheses of a plan's family: for each comparison "no difference" and, with a margin, "not
/// equivalent". At most one of a comparison's two can be true, which Shaffer's (1986) refinement of
/// Holm's step-down uses: the j-th smallest p is multiplied by the number of comparisons that still have
/// a hypothesis among the j-th and later ones. With difference tests alone this is Holm's procedure.
public struct FamilyHypothesis: Equatable, Sendable {
  public enum Kind: String, Codable, Sendable { case difference, equivalence }
  public var comparison: Int
  public var kind: Kind
  public var p: Double

  public init(comparison: Int, kind: Kind, p: Double) { (self.comparison, self.kind, self.p) = (comparison, kind, p) }
}

/// The step-down multipliers of `hypotheses` in ascending order of p: for each position, the number of
/// comparisons with a hypothesis at or after it (the most that can be true if the earlier ones are false).
func stepDownMultipliers(_ sorted: [FamilyHypothesis]) -> [Int] {
  sorted.indices.map { j in Set(sorted[j...].map(\.comparison)).count }
}

/// Adjusted p-values in the order given: p̃(j) = max over i ≤ j of min(1, t_i · p(i)) in ascending order.
public func stepDownAdjusted(_ hypotheses: [FamilyHypothesis]) -> [Double] {
  let order = hypotheses.indices.sorted { (hypotheses[$0].p, $0) < (hypotheses[$1].p, $1) }
  let sorted = order.map { hypotheses[$0] }
  let multipliers = stepDownMultipliers(sorted)
  var adjusted = [Double](repeating: 1, count: hypotheses.count)
  var running = 0.0
  for (j, index) in order.enumerated() {
    running = max(running, min(1, Double(multipliers[j]) * sorted[j].p))
    adjusted[index] = running
  }
  return adjusted
}

/// Holm's adjusted p-values of independent-or-not tests, one per comparison.
public func holmAdjusted(_ p: [Double]) -> [Double] {
  stepDownAdjusted(p.enumerated().map { FamilyHypothesis(comparison: $0, kind: .difference, p: $1) })
}

/// The power of a two-sided paired t test at level `alpha` with `seeds` pairs, when the differences have
/// mean `effect` and standard deviation `sd`: P(|T'| ≥ t(1 - α/2, n - 1)) for the noncentral t with
/// noncentrality effect·√n / sd, integrated over the chi distribution of the sample deviation.
public func pairedTestPower(effect: Double, sd: Double, seeds: Int, alpha: Double) -> Double {
  guard seeds >= 2, sd > 0 else { return 0 }
  let df = Double(seeds - 1)
  let c = studentTQuantile(1 - alpha / 2, degreesOfFreedom: df)
  let lambda = abs(effect) * Double(seeds).squareRoot() / sd
  // u = √V, V ~ χ²(df): density 2 u^(df-1) e^(-u²/2) / (2^(df/2) Γ(df/2)); Simpson over [0, √df + 12].
  let logNorm = log(2.0) - (df / 2) * log(2.0) - lgamma(df / 2)
  let upper = df.squareRoot() + 12, n = 2000
  let h = upper / Double(n)
  var total = 0.0
  for i in 0...n {
    let u = Double(i) * h
    guard u > 0 else { continue }
    let density = exp(logNorm + (df - 1) * log(u) - u * u / 2)
    let threshold = c * u / df.squareRoot()
    let reject = (1 - normalCDF(threshold - lambda)) + normalCDF(-threshold - lambda)
    total += (i == n ? 1 : i % 2 == 1 ? 4 : 2) * density * reject
  }
  return total * h / 3
}
