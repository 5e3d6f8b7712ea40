// How many training seeds a study runs: a number fixed before looking (`repeats: 4`), or a group-
// sequential design (`repeats: {min: 4, max: 12, step: 2}`) that looks at the verdicts after `min`
// seeds, then every `step` more, and stops when every comparison is decided. Each look spends part of
// the error rate by Lan and DeMets' (1983) O'Brien-Fleming-type function α(τ) = 2 - 2Φ(z(1-α/2) / √τ),
// τ the share of the maximum seeds; the boundaries follow from the joint law of the look statistics
// (Brownian motion in τ: independent increments), integrated look by look on a grid (Armitage,
// McPherson and Rowe 1969; Jennison and Turnbull 2000, ch. 19). The t statistics of the seeds are
// compared with the boundaries' nominal p-values, as group-sequential t tests usually are.
import Foundation

/// The seeds of a study: fixed, or looks of a sequential design.
public enum SeedDesign: Equatable, Sendable {
  case fixed(Int)
  case sequential(min: Int, max: Int, step: Int)

  /// The seed counts at which verdicts are read (one for a fixed design).
  public var looks: [Int] {
    switch self {
    case let .fixed(n): return [n]
    case let .sequential(lo, hi, step):
      var out = Array(stride(from: lo, to: hi, by: max(1, step)))
      out.append(hi)
      return out
    }
  }

  /// The most seeds the design can run.
  public var maxSeeds: Int { looks.last ?? 1 }
  public var isSequential: Bool { looks.count > 1 }

  /// "4 seeds, fixed in advance" or "looks at 4, 6, 8 seeds (at most 8), ...".
  public var description: String {
    switch self {
    case let .fixed(n): return "\(n) seed\(n == 1 ? "" : "s"), fixed in advance"
    case .sequential:
      return "group-sequential: looks at \(looks.map(String.init).joined(separator: ", ")) seeds, O'Brien-Fleming-type "
        + "alpha spending (Lan-DeMets), stopping when every comparison is decided"
    }
  }
}

/// The spending function: the error rate a design may have spent by information share `tau`.
public func obrienFlemingSpent(_ tau: Double, alpha: Double) -> Double {
  guard tau > 0 else { return 0 }
  return min(alpha, 2 - 2 * normalCDF(normalQuantile(1 - alpha / 2) / min(1, tau).squareRoot()))
}

/// The boundaries of a group-sequential test on `information` shares (increasing, last 1), as z values
/// that a look's statistic must reach. `twoSided`: |Z| ≥ c; else Z ≥ c.
public func obrienFlemingBoundaries(information: [Double], alpha: Double, twoSided: Bool) -> [Double] {
  precondition(!information.isEmpty && alpha > 0 && alpha < 1)
  var bounds: [Double] = []
  // The density of the score S = Z·√τ on the continuation region of the previous look.
  var grid: [Double] = [], density: [Double] = [], weights: [Double] = []
  var previousTau = 0.0, previousSpent = 0.0
  for tau in information {
    let spent = obrienFlemingSpent(tau, alpha: alpha)
    let target = spent - previousSpent
    let sd = (tau - previousTau).squareRoot()
    // P(crossing at this look and not before) for a boundary c.
    func crossing(_ c: Double) -> Double {
      let b = c * tau.squareRoot()
      func tail(_ u: Double) -> Double {
        let upper = 1 - normalCDF((b - u) / sd)
        return twoSided ? upper + normalCDF((-b - u) / sd) : upper
      }
      if grid.isEmpty { return tail(0) }
      var p = 0.0
      for i in grid.indices { p += weights[i] * density[i] * tail(grid[i]) }
      return p
    }
    var c: Double
    if target <= 1e-15 {
      c = 40
    } else {
      var (lo, hi) = (0.0, 40.0)
      for _ in 0..<100 {
        let mid = (lo + hi) / 2
        if crossing(mid) > target { lo = mid } else { hi = mid }
      }
      c = (lo + hi) / 2
    }
    bounds.append(c)
    // The density of S on this look's continuation region, for the next look.
    let b = c * tau.squareRoot()
    let lower = twoSided ? -b : -12 * tau.squareRoot() - 12
    let (points, simpson) = simpsonGrid(lower, b, intervals: 400)
    let next = points.map { s -> Double in
      if grid.isEmpty { return normalDensity(s / sd) / sd }
      var f = 0.0
      for i in grid.indices { f += weights[i] * density[i] * normalDensity((s - grid[i]) / sd) / sd }
      return f
    }
    (grid, density, weights) = (points, next, simpson)
    (previousTau, previousSpent) = (tau, spent)
  }
  return bounds
}

/// The p-value a look's statistic must reach: P(|Z| ≥ c) or P(Z ≥ c).
public func nominalLevel(boundary c: Double, twoSided: Bool) -> Double {
  (twoSided ? 2 : 1) * (1 - normalCDF(c))
}

func normalDensity(_ x: Double) -> Double { exp(-x * x / 2) / (2 * Double.pi).squareRoot() }

/// `intervals + 1` points from a to b (intervals even) with Simpson's weights.
private func simpsonGrid(_ a: Double, _ b: Double, intervals n: Int) -> ([Double], [Double]) {
  let h = (b - a) / Double(n)
  let points = (0...n).map { a + Double($0) * h }
  let weights = (0...n).map { i -> Double in (i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2) * h / 3 }
  return (points, weights)
}

/// Boundaries computed once per (looks, level, sides): a family's local levels take few values.
final class BoundaryTable {
  private var table: [String: [Double]] = [:]
  let design: SeedDesign

  init(design: SeedDesign) { self.design = design }

  /// The nominal p-level at look `k` for a test at `alpha`.
  func nominal(look k: Int, alpha: Double, twoSided: Bool) -> Double {
    let looks = design.looks
    if looks.count == 1 { return alpha }
    let key = "\(alpha)|\(twoSided)"
    let bounds = table[key] ?? {
      let info = looks.map { Double($0) / Double(design.maxSeeds) }
      let b = obrienFlemingBoundaries(information: info, alpha: alpha, twoSided: twoSided)
      table[key] = b
      return b
    }()
    return nominalLevel(boundary: bounds[k], twoSided: twoSided)
  }
}
