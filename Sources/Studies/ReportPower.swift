// What a study says about the next one: each comparison's seed-to-seed deviation of the paired
// difference, and from it the seeds a fixed design needs to call a 10% or a 20% difference of the
// primary metric with 80% power at the family's first Holm step (α divided by the comparisons). A study
// run first as a pilot sizes the confirmatory one this way, on new seeds (`base.seed`); an sd from few
// seeds is itself uncertain (from 3 seeds the upper 95% bound is 6.3 times the estimate), so the table
// is a plan, not a result.
import Foundation

/// The seeds a paired comparison needs, from a measured deviation.
struct SeedPlanning: Equatable {
  /// Fractions of the reference's mean the table is sized for.
  static let effects = [0.1, 0.2]
  static let targetPower = 0.8
  /// Beyond this many seeds the table says "more than".
  static let maximumSeeds = 50

  /// The paired differences' sd as a fraction of the reference's mean.
  var relativeSD: Double
  /// The level of one comparison's test (α over the family's size).
  var level: Double

  /// The power of `seeds` seeds against a difference of `effect` (a fraction of the reference's mean).
  func power(effect: Double, seeds: Int) -> Double {
    pairedTestPower(effect: effect, sd: relativeSD, seeds: seeds, alpha: level)
  }

  /// The fewest seeds with `targetPower` against `effect`, nil beyond `maximumSeeds`.
  func seedsNeeded(effect: Double) -> Int? {
    (2...Self.maximumSeeds).first { power(effect: effect, seeds: $0) >= Self.targetPower }
  }
}

extension StudyReport {
  /// One row per comparison with at least 3 seeds: its relative paired sd, the power it had, and the
  /// seeds a next study needs.
  var seedPlanningTable: ReportTable? {
    let spec = experiment.plan.decision
    let level = spec.alpha / Double(max(comparisons.count, 1))
    let rows: [[String]] = comparisons.compactMap { c in
      guard c.difference.n >= 3, let sd = c.difference.standardDeviation, let margin = c.margin, margin > 0 else { return nil }
      let planning = SeedPlanning(relativeSD: sd / (margin / spec.equivalenceMargin), level: level)
      let now = SeedPlanning.effects.map { formatted(planning.power(effect: $0, seeds: c.difference.n), digits: 2) }
      let needed = SeedPlanning.effects.map { planning.seedsNeeded(effect: $0).map(String.init) ?? "> \(SeedPlanning.maximumSeeds)" }
      return ["\(c.label) against \(c.reference)", String(c.difference.n), formatted(100 * planning.relativeSD, digits: 1) + "%"]
        + now + needed
    }
    guard !rows.isEmpty else { return nil }
    return ReportTable(header: ["comparison", "seeds", "paired sd (% of the reference)", "power for 10% now", "power for 20% now",
                                "seeds for 80% power at 10%", "seeds for 80% power at 20%"], rows: rows)
  }

  var seedPlanningSentence: String {
    let spec = experiment.plan.decision
    return "The seed-to-seed sd of each paired difference of \(spec.primaryMetric.label), as measured here, and what it implies: "
      + "the power this study had, and the seeds a fixed design needs for 80% power at the family's first Holm step "
      + "(α = \(formatted(spec.alpha, digits: 2)) over \(comparisons.count) comparison\(comparisons.count == 1 ? "" : "s")). "
      + "To plan a confirmatory study on new seeds (`base.seed`); an sd from few seeds is itself uncertain "
      + "(from 3 seeds its upper 95% bound is 6.3 times the estimate)."
  }
}
