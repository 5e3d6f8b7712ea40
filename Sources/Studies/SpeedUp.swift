// The paper's claim as a number: how much DSM-only training a variant's quality is worth. DSM only
// trains twice the longest compared budget with points along its curve; per seed, its primary metric
// against training time is fitted by a decreasing isotonic regression (pool-adjacent-violators), and a
// variant's metric at the end of its budget is read back on that curve of the same seed (log-log between
// fitted points): the *DSM-equivalent time*. The speed-up is DSM-equivalent time / the variant's time,
// summarised over seeds as a geometric mean with a Student-t interval on the log scale. A metric better than DSM only ever
// reached is a censored lower bound ("> 2.0x"), one worse than its first point an upper bound; bounds are
// reported as bounds and counted by a sign test over seeds, never dropped or averaged as exact values.
import Foundation

/// A decreasing isotonic fit of `y` (least squares, equal weights), by pooling adjacent violators.
public func decreasingIsotonicFit(_ y: [Double]) -> [Double] {
  var blocks: [(sum: Double, count: Int)] = []
  for v in y {
    blocks.append((v, 1))
    // Merge while a later block's mean is above an earlier one's (a violation of "decreasing").
    while blocks.count > 1, blocks[blocks.count - 1].sum / Double(blocks[blocks.count - 1].count)
      > blocks[blocks.count - 2].sum / Double(blocks[blocks.count - 2].count) {
      let last = blocks.removeLast()
      blocks[blocks.count - 1].sum += last.sum
      blocks[blocks.count - 1].count += last.count
    }
  }
  return blocks.flatMap { Array(repeating: $0.sum / Double($0.count), count: $0.count) }
}

/// Where a value falls on a decreasing curve.
public enum CurveTime: Codable, Equatable, Sendable {
  /// On the curve: the time it first reaches the value (linear between fitted points).
  case exact(Double)
  /// No better than the curve's first point: at most that time.
  case atMost(Double)
  /// Better than the curve ever reached: beyond its last time.
  case atLeast(Double)

  public var seconds: Double {
    switch self { case let .exact(s), let .atMost(s), let .atLeast(s): return s }
  }
}

/// The time the isotonic fit of `curve` (time, metric; time increasing) first reaches `value`, interpolated
/// between fitted points on log-log axes (a power law, as learning curves are, is a straight line there;
/// a straight line in time overstates the time between points of a convex curve: it covered a true 1.25x in
/// 89% of simulated studies instead of 95%), linearly where a value is not positive.
public func equivalentTime(of value: Double, on curve: [(seconds: Double, value: Double)]) -> CurveTime? {
  let points = curve.filter { $0.seconds.isFinite && $0.value.isFinite }.sorted { $0.seconds < $1.seconds }
  guard let first = points.first, let last = points.last else { return nil }
  let fit = decreasingIsotonicFit(points.map(\.value))
  if value >= fit[0] { return .atMost(first.seconds) }
  if value < fit[fit.count - 1] { return .atLeast(last.seconds) }
  for i in 1..<fit.count where fit[i] <= value {
    // fit[i-1] > value ≥ fit[i]: the line between the two fitted points meets it once.
    let (t0, t1) = (points[i - 1].seconds, points[i].seconds)
    if fit[i] > 0, value > 0, t0 > 0 {
      let share = log(fit[i - 1] / value) / log(fit[i - 1] / fit[i])
      return .exact(exp(log(t0) + share * log(t1 / t0)))
    }
    let share = (fit[i - 1] - value) / (fit[i - 1] - fit[i])
    return .exact(t0 + share * (t1 - t0))
  }
  return .atLeast(last.seconds)
}

/// One variant's speed-up over the reference (DSM only).
public struct SpeedUp: Codable, Equatable, Sendable {
  public var name: String
  public var slug: String
  public var metric: PrimaryMetric
  public var perSeed: [Seed]
  /// Geometric mean and 95% interval (t on logs) over seeds; with bounds among them, nil.
  public var geometricMean: Estimate?
  /// With bounds among the seeds: the geometric mean of the values and bounds, itself a bound in the
  /// direction every bound points (nil when they point both ways).
  public var bound: CurveTime?
  /// Seeds faster (> 1x) and slower (< 1x) than DSM only; bounds count where they decide the side.
  public var faster: Int
  public var slower: Int
  /// Two-sided exact sign-test p of "as often faster as slower".
  public var signTestP: Double

  public struct Seed: Codable, Equatable, Sendable {
    public var seed: UInt64
    /// The variant's training time and metric at its end.
    public var seconds: Double
    public var value: Double
    /// Where DSM only's curve of the same seed reaches that value.
    public var dsmEquivalent: CurveTime
    /// dsmEquivalent / seconds (a bound when dsmEquivalent is).
    public var speedUp: CurveTime
  }

  /// The summary of per-seed speed-ups.
  public init(name: String, slug: String, metric: PrimaryMetric, perSeed: [Seed]) {
    (self.name, self.slug, self.metric, self.perSeed) = (name, slug, metric, perSeed)
    let logs = perSeed.map { log($0.speedUp.seconds) }
    let exact = perSeed.allSatisfy { if case .exact = $0.speedUp { return true } else { return false } }
    let gm = exp(logs.reduce(0, +) / Double(max(1, logs.count)))
    if exact {
      geometricMean = Estimate(geometricMeanOf: perSeed.map(\.speedUp.seconds))
      bound = nil
    } else {
      geometricMean = nil
      let lower = perSeed.allSatisfy { if case .atMost = $0.speedUp { return false } else { return true } }
      let upper = perSeed.allSatisfy { if case .atLeast = $0.speedUp { return false } else { return true } }
      bound = lower ? .atLeast(gm) : upper ? .atMost(gm) : nil
    }
    faster = perSeed.filter {
      switch $0.speedUp { case let .exact(s): return s > 1; case let .atLeast(s): return s >= 1; case .atMost: return false }
    }.count
    slower = perSeed.filter {
      switch $0.speedUp { case let .exact(s): return s < 1; case let .atMost(s): return s <= 1; case .atLeast: return false }
    }.count
    signTestP = binomialTwoSidedP(faster, faster + slower)
  }

  /// "two-stage reaches DSM only's quality in 0.48x its time (95% CI 0.35-0.66, 6 seeds)".
  public func sentence(reference: String) -> String {
    let n = perSeed.count
    let sign = "faster than \(reference) in \(faster) of \(n) seed\(n == 1 ? "" : "s") (sign test p = \(pText(signTestP)))"
    if let g = geometricMean {
      let interval = g.low.flatMap { lo in g.high.map { hi in String(format: " (95%% CI %.2f-%.2fx, %d seeds)", lo, hi, g.n) } } ?? " (1 seed, no interval)"
      return "\(name) is \(String(format: "%.2fx", g.mean)) as fast as \(reference)\(interval): \(reference) needs "
        + "\(String(format: "%.2f", g.mean)) times \(name)'s training time to reach the \(metric.label) \(name) ends with; \(sign)"
    }
    switch bound {
    case let .atLeast(b)?:
      return "\(name) is at least \(String(format: "%.2fx", b)) as fast as \(reference): in some seeds it ends better than \(reference) "
        + "ever got within its longer budget (a lower bound); \(sign)"
    case let .atMost(b)?:
      return "\(name) is at most \(String(format: "%.2fx", b)) as fast as \(reference): in some seeds it ends no better than "
        + "\(reference)'s first point (an upper bound); \(sign)"
    default:
      return "\(name): seeds fall beyond both ends of \(reference)'s curve, no single figure; \(sign)"
    }
  }
}

/// P-value of the two-sided exact binomial (sign) test of k successes in n at p = 1/2.
func binomialTwoSidedP(_ k: Int, _ n: Int) -> Double {
  guard n > 0 else { return 1 }
  func logChoose(_ n: Int, _ k: Int) -> Double { lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1)) }
  let tail = min(k, n - k)
  let p = (0...tail).map { exp(logChoose(n, $0) - Double(n) * log(2)) }.reduce(0, +)
  return min(1, 2 * p)
}

/// A p-value for reading: "0.004", "< 0.001".
func pText(_ p: Double) -> String { p < 0.001 ? "< 0.001" : String(format: "%.3f", p) }

extension StudyReport {
  /// Every timed variant's speed-up over the experiment's speed-up reference, per seed on that seed's curve.
  static func speedUps(_ experiment: Experiment, _ summaries: [VariantSummary], metric: PrimaryMetric) -> [SpeedUp] {
    guard let refSlug = experiment.speedUpReference, let reference = summaries.first(where: { $0.slug == refSlug }) else { return [] }
    let rows = experiment.studies.flatMap(\.rows)
    let curves: [UInt64: [(seconds: Double, value: Double)]] = Dictionary(reference.perSeed.filter(\.finished).map { r in
      (r.seed ?? 0, (r.referenceCurve ?? r.curve ?? []).compactMap { p in p.value(metric).map { (p.trainingSeconds, $0) } })
    }, uniquingKeysWith: { a, _ in a })
    return summaries.compactMap { s -> SpeedUp? in
      guard s.slug != refSlug, experiment.variants.first(where: { $0.slug == s.slug })?.evaluation.along != nil else { return nil }
      let seeds = s.perSeed.filter(\.finished).compactMap { r -> SpeedUp.Seed? in
        guard let end = r.curve?.last, let value = end.value(metric), let curve = curves[r.seed ?? 0],
              end.trainingSeconds > 0, let time = equivalentTime(of: value, on: curve) else { return nil }
        let ratio: CurveTime
        switch time {
        case let .exact(t): ratio = .exact(t / end.trainingSeconds)
        case let .atMost(t): ratio = .atMost(t / end.trainingSeconds)
        case let .atLeast(t): ratio = .atLeast(t / end.trainingSeconds)
        }
        return .init(seed: r.seed ?? 0, seconds: end.trainingSeconds, value: value, dsmEquivalent: time, speedUp: ratio)
      }
      guard !seeds.isEmpty else { return nil }
      let label = rows.first { $0.slug == s.slug }?.label ?? s.name
      return SpeedUp(name: label, slug: s.slug, metric: metric, perSeed: seeds)
    }
  }
}

extension CurvePoint {
  /// This point's value of `metric`.
  func value(_ metric: PrimaryMetric) -> Double? { metric == .kid ? kidMean : fid }
}
