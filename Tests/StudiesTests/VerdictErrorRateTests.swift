// The verdicts' error rates by simulation: thousands of synthetic studies (per-seed values drawn with a
// known effect, no training) through the same `FamilyDecision` the report uses. A plan of three
// comparisons sharing one baseline (their differences correlate at 0.5), per-seed metric 1 + effect +
// 0.1·noise, so a difference has sd 0.1·√2 and the ±10% margin is about 0.71 of it.
// Monte-Carlo error: with N studies a rate p has standard error √(p(1 - p)/N); N = 4000 gives 0.0034 at
// 5%, and each bound below allows three of them.
import Foundation
import XCTest
@testable import Studies

final class VerdictErrorRateTests: XCTestCase {
  static let studies = Int(ProcessInfo.processInfo.environment["MASKDM_SIMULATED_STUDIES"] ?? "") ?? 4000
  static let noise = 0.1
  /// The tolerance of a rate of 5% over `studies` simulated studies: three Monte-Carlo standard errors.
  static let tolerance = 3 * (0.05 * 0.95 / Double(studies)).squareRoot()

  /// A seeded normal generator (SplitMix64 and Box-Muller), so the test is the same on every run.
  struct Normal {
    var state: UInt64
    mutating func uniform() -> Double {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return (Double((z ^ (z >> 31)) >> 11) + 0.5) / 9_007_199_254_740_992
    }
    mutating func next() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
  }

  /// One simulated study: `seeds` per-seed differences of each comparison and their margins.
  static func study(effects: [Double], seeds: Int, _ g: inout Normal) -> (differences: [[Double]], margins: [Double?]) {
    var differences = [[Double]](repeating: [], count: effects.count)
    var baseline: [Double] = []
    for _ in 0..<seeds {
      let b = 1 + noise * g.next()
      baseline.append(b)
      for (c, effect) in effects.enumerated() { differences[c].append(1 + effect + noise * g.next() - b) }
    }
    let margin = 0.1 * baseline.reduce(0, +) / Double(seeds)
    return (differences, Array(repeating: margin, count: effects.count))
  }

  /// The share of studies in which `wrong` holds for any comparison, and the mean seeds used.
  static func rate(_ design: SeedDesign, effects: [Double], seed: UInt64, wrong: (Int, Verdict) -> Bool) -> (rate: Double, seeds: Double) {
    var g = Normal(state: seed)
    let family = FamilyDecision(design: design)
    var failures = 0, seeds = 0
    for _ in 0..<studies {
      let s = study(effects: effects, seeds: design.maxSeeds, &g)
      let outcome = family.decide(differences: s.differences, margins: s.margins)
      if outcome.decisions.enumerated().contains(where: { wrong($0, $1.verdict) }) { failures += 1 }
      seeds += outcome.looksRead.last ?? 0
    }
    return (Double(failures) / Double(studies), Double(seeds) / Double(studies))
  }

  static let designs: [SeedDesign] = [.fixed(4), .fixed(8), .sequential(min: 4, max: 12, step: 2)]

  func testNoFalseDifferenceBeyondFivePercentUnderTheNull() {
    for (i, design) in Self.designs.enumerated() {
      let r = Self.rate(design, effects: [0, 0, 0], seed: 100 + UInt64(i)) { _, v in v == .better || v == .worse }
      print("null, \(design): false better/worse \(r.rate), mean seeds \(r.seeds)")
      XCTAssertLessThanOrEqual(r.rate, 0.05 + Self.tolerance, "\(design): family-wise rate of a false better/worse")
    }
  }

  func testNoFalseEquivalenceBeyondFivePercentAtTheMargin() {
    // Every effect exactly at the +10% margin: "equivalent" is false for each.
    for (i, design) in Self.designs.enumerated() {
      let r = Self.rate(design, effects: [0.1, 0.1, 0.1], seed: 200 + UInt64(i)) { _, v in v == .equivalent }
      print("at the margin, \(design): false equivalent \(r.rate)")
      XCTAssertLessThanOrEqual(r.rate, 0.05 + Self.tolerance, "\(design): family-wise rate of a false equivalent")
    }
  }

  func testTheStatedPowerIsMet() {
    // One comparison differs by 0.2 (1.41 sd of a difference); the stated power is Bonferroni's, the
    // first step of Holm's step-down, which is a lower bound for it.
    let stated = pairedTestPower(effect: 0.2, sd: Self.noise * 2.0.squareRoot(), seeds: 6, alpha: 0.05 / 3)
    let r = Self.rate(.fixed(6), effects: [0.2, 0, 0], seed: 300) { c, v in c == 0 && v == .worse }
    print("power: stated \(stated), simulated \(r.rate)")
    XCTAssertGreaterThanOrEqual(r.rate, stated - 3 * (stated * (1 - stated) / Double(Self.studies)).squareRoot(),
                                "power of calling a +0.2 difference worse with 6 seeds (stated \(stated))")
    // A sequential design calls the large effect early: fewer seeds on average than its maximum.
    let s = Self.rate(.sequential(min: 4, max: 12, step: 2), effects: [0.3, 0.3, 0.3], seed: 301) { c, v in v != .worse }
    print("sequential, effects 0.3: mean seeds \(s.seeds), not called worse \(s.rate)")
    XCTAssertLessThan(s.seeds, 10, "mean seeds of a sequential design with large effects (its maximum: 12)")
    XCTAssertLessThan(s.rate, 0.2, "large effects are called worse in most studies")
  }
}
