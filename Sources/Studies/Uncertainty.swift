// How sure a study's numbers are: a mean over training seeds with its 95% confidence interval
// (Student's t with n - 1 degrees of freedom), the difference of two variants paired by seed, and the
// verdict a reader draws from it. Student's t quantile comes from its CDF, the regularized incomplete
// beta function (continued fraction, modified Lentz), inverted by bisection.
import Foundation

/// A value measured `n` times: its mean and a 95% interval.
public struct Estimate: Codable, Equatable, Sendable {
  /// Where the interval comes from.
  public enum Source: String, Codable, Sendable {
    /// Student's t over training seeds (n ≥ 2).
    case seeds
    /// A bootstrap over one evaluation's generated samples: the evaluation's own noise only, not
    /// the training seed's (n = 1).
    case bootstrap
    /// One value, no interval.
    case single
  }

  public var mean: Double
  public var low: Double?
  public var high: Double?
  /// The values it is made of, in seed order.
  public var values: [Double]
  public var source: Source
  public var n: Int { values.count }
  /// Sample standard deviation (n - 1); nil for fewer than two values.
  public var standardDeviation: Double? { sampleStandardDeviation(values) }

  /// Mean and Student-t 95% interval of `values` (no interval for one value).
  public init(values: [Double]) {
    self.values = values
    mean = values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    source = values.count >= 2 ? .seeds : .single
    if let (lo, hi) = studentInterval(values) { (low, high) = (lo, hi) }
  }

  /// The geometric mean of positive `values` and the 95% interval of their logarithms' mean (Student t),
  /// taken back by exp: the summary of ratios such as speed-ups.
  public init(geometricMeanOf values: [Double]) {
    let logs = Estimate(values: values.map(log))
    self.values = values
    mean = exp(logs.mean)
    (low, high) = (logs.low.map(exp), logs.high.map(exp))
    source = logs.source
  }

  /// One value with an interval from elsewhere (a bootstrap).
  public init(value: Double, low: Double?, high: Double?, source: Source) {
    (self.values, mean, self.low, self.high, self.source) = ([value], value, low, high, low == nil ? .single : source)
  }
}

/// What a comparison decided (`FamilyDecision`), in words.
public enum Verdict: String, Codable, Sendable {
  case better
  case worse
  /// Both one-sided tests rejected a difference as large as the margin.
  case equivalent = "equivalent within the margin"
  /// Neither test decided at the seeds run.
  case noClearDifference = "no clear difference at this budget"
  /// Fewer than two paired seeds: no test.
  case oneSeed = "one seed: no verdict"
  /// Seeds are still to come before the design's first look (a fixed design reads its verdicts once all
  /// its seeds are in).
  case pending = "pending: the design's seeds are not all in"

  public var label: String { rawValue }

  /// The label with the margin spelled out ("equivalent within ±10%").
  public func label(margin: Double) -> String {
    self == .equivalent ? "equivalent within ±\(formatted(margin * 100, digits: 0))%" : rawValue
  }
}

/// `variant - reference` over the seeds both have, paired by seed.
public func pairedDifference(_ variant: [UInt64: Double], _ reference: [UInt64: Double]) -> Estimate {
  Estimate(values: pairedValues(variant, reference))
}

func sampleStandardDeviation(_ values: [Double]) -> Double? {
  guard values.count >= 2 else { return nil }
  let mean = values.reduce(0, +) / Double(values.count)
  return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
}

/// mean ± t(0.975, n - 1) · s / √n.
func studentInterval(_ values: [Double], level: Double = 0.95) -> (Double, Double)? {
  guard let s = sampleStandardDeviation(values), values.allSatisfy(\.isFinite) else { return nil }
  let n = Double(values.count)
  let mean = values.reduce(0, +) / n
  let h = studentTQuantile(0.5 + level / 2, degreesOfFreedom: n - 1) * s / n.squareRoot()
  return (mean - h, mean + h)
}

/// The p-quantile of Student's t distribution with `df` degrees of freedom.
public func studentTQuantile(_ p: Double, degreesOfFreedom df: Double) -> Double {
  precondition(p > 0 && p < 1 && df > 0)
  if p < 0.5 { return -studentTQuantile(1 - p, degreesOfFreedom: df) }
  var (lo, hi) = (0.0, 1.0)
  while studentTCDF(hi, degreesOfFreedom: df) < p { hi *= 2 }
  for _ in 0..<200 {
    let mid = (lo + hi) / 2
    if studentTCDF(mid, degreesOfFreedom: df) < p { lo = mid } else { hi = mid }
    if hi - lo <= 1e-14 * max(1, hi) { break }
  }
  return (lo + hi) / 2
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t²).
public func studentTCDF(_ t: Double, degreesOfFreedom df: Double) -> Double {
  let tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5)
  return t >= 0 ? 1 - tail : tail
}

/// I_x(a, b), by the continued fraction of Numerical Recipes §6.4 on whichever side converges.
func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
  if x <= 0 { return 0 }
  if x >= 1 { return 1 }
  let logBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
  let logFront: Double = logBeta + a * log(x) + b * log(1 - x)
  if x < (a + 1) / (a + b + 2) { return exp(logFront) * betaContinuedFraction(x, a, b) / a }
  return 1 - exp(logFront) * betaContinuedFraction(1 - x, b, a) / b
}

private func betaContinuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
  let tiny = 1e-300
  var c = 1.0, d = 1 - (a + b) * x / (a + 1)
  d = 1 / (abs(d) < tiny ? tiny : d)
  var h = d
  for m in 1...500 {
    let m = Double(m)
    let even: Double = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
    let odd: Double = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
    for numerator in [even, odd] {
      d = 1 + numerator * d
      d = 1 / (abs(d) < tiny ? tiny : d)
      c = 1 + numerator / c
      if abs(c) < tiny { c = tiny }
      h *= d * c
    }
    if abs(d * c - 1) < 1e-16 { break }
  }
  return h
}
