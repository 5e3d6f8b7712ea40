// The verdicts' statistics against values from other implementations, printed by
// scripts/verdict_reference.py (scipy 1.17.1, statsmodels 0.14.4) and written here as numbers: the
// paired t test and TOST (statsmodels' ttost_paired), Holm (statsmodels' multipletests), the
// group-sequential boundaries (Lan-DeMets O'Brien-Fleming, solved with scipy's multivariate normal CDF,
// not a grid; the one-sided K = 4 values are also gsDesign's published 4.3326, 2.9631, 2.3590, 2.0141),
// the log-scale interval of a ratio and the isotonic fit (scipy).
import XCTest
@testable import Studies

final class VerdictStatisticsTests: XCTestCase {
  let variant = [0.161, 0.148, 0.172, 0.155], baseline = [0.151, 0.149, 0.160, 0.150]

  func testPairedTAndTOSTMatchScipyAndStatsmodels() throws {
    let d = zip(variant, baseline).map { $0 - $1 }
    let margin = 0.1 * baseline.reduce(0, +) / 4
    XCTAssertEqual(margin, 0.01525, accuracy: 1e-15)
    let test = try XCTUnwrap(PairedTest(differences: d, margin: margin))
    XCTAssertEqual(test.pDifference, 0.11091100964030302, accuracy: 1e-10)
    XCTAssertEqual(test.pEquivalence, 0.028468768073698154, accuracy: 1e-10)
    let close = try XCTUnwrap(PairedTest(differences: zip([0.150, 0.151, 0.149, 0.152, 0.150], [0.151, 0.150, 0.150, 0.151, 0.151]).map { $0 - $1 },
                                         margin: 0.01))
    XCTAssertEqual(close.pEquivalence, 1.842632123360483e-05, accuracy: 1e-12)
    XCTAssertNil(PairedTest(differences: [0.1], margin: nil), "one seed: no test")
  }

  func testHolmMatchesStatsmodels() {
    let adjusted = holmAdjusted([0.01, 0.04, 0.03, 0.005, 0.2])
    for (a, b) in zip(adjusted, [0.04, 0.09, 0.09, 0.025, 0.2]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    for (a, b) in zip(holmAdjusted([0.011, 0.049, 0.02]), [0.033, 0.049, 0.04]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
  }

  func testShafferCountsAtMostOneTrueHypothesisPerComparison() {
    // Two comparisons, each with a difference and an equivalence hypothesis: the smallest p is multiplied by
    // 2 (at most one of each pair is true), not 4; after it only comparison 1's pair is left.
    let family = [FamilyHypothesis(comparison: 0, kind: .difference, p: 0.01), FamilyHypothesis(comparison: 0, kind: .equivalence, p: 0.5),
                  FamilyHypothesis(comparison: 1, kind: .difference, p: 0.03), FamilyHypothesis(comparison: 1, kind: .equivalence, p: 0.02)]
    let adjusted = stepDownAdjusted(family)
    // Ascending: 0.01 (t = 2), 0.02 (t = 2: comparisons 0 and 1 still have hypotheses), 0.03 (t = 2), 0.5 (t = 1).
    for (a, b) in zip(adjusted, [0.02, 0.5, 0.06, 0.04]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
  }

  func testOBrienFlemingBoundariesMatchScipy() {
    let cases: [([Double], Double, Bool, [Double])] = [
      ([0.25, 0.5, 0.75, 1], 0.025, false, [4.332633646049965, 2.9631315976798973, 2.3590442845678483, 2.01409014906134]),
      ([1.0 / 3, 2.0 / 3, 1], 0.05, true, [3.3947572023979844, 2.4067326126054858, 2.0152467311896616]),
      ([4.0 / 12, 6.0 / 12, 8.0 / 12, 10.0 / 12, 1], 0.05, true,
       [3.3947572023979844, 2.787277534891725, 2.4489175208658827, 2.231954930234963, 2.0799108204590455]),
      ([0.5, 1], 0.0125, true, [3.532288956725336, 2.5024984649018713]),
    ]
    for (info, alpha, twoSided, expected) in cases {
      let bounds = obrienFlemingBoundaries(information: info, alpha: alpha, twoSided: twoSided)
      for (b, e) in zip(bounds, expected) { XCTAssertEqual(b, e, accuracy: 2e-4, "\(info) α \(alpha) \(twoSided ? "two" : "one")-sided") }
    }
    XCTAssertEqual(obrienFlemingSpent(1, alpha: 0.05), 0.05, accuracy: 1e-12, "the whole rate is spent at the last look")
  }

  func testPowerMatchesScipysNoncentralT() {
    // scipy.stats.nct.sf(c, df, nc) + nct.cdf(-c, df, nc) with c = t.ppf(1 - α/2, df), nc = effect·√n / sd.
    XCTAssertEqual(pairedTestPower(effect: 1, sd: 1, seeds: 6, alpha: 0.05), 0.5068419799585823, accuracy: 1e-6)
    XCTAssertEqual(pairedTestPower(effect: 0.5, sd: 0.4, seeds: 4, alpha: 0.025), 0.24963980795053006, accuracy: 1e-6)
    XCTAssertEqual(pairedTestPower(effect: 2, sd: 1, seeds: 3, alpha: 0.0167), 0.19391628507352587, accuracy: 1e-6)
  }

  func testSeedDesignsLooks() {
    XCTAssertEqual(SeedDesign.fixed(4).looks, [4])
    XCTAssertEqual(SeedDesign.sequential(min: 4, max: 12, step: 2).looks, [4, 6, 8, 10, 12])
    XCTAssertEqual(SeedDesign.sequential(min: 4, max: 9, step: 2).looks, [4, 6, 8, 9])
    // A fixed design reads its verdicts once all its seeds are in: two of four is pending, not a verdict.
    let early = FamilyDecision(design: .fixed(4)).decide(differences: [[5, 6]], margins: [nil])
    XCTAssertEqual(early.decisions[0].verdict, .pending)
    XCTAssertEqual(early.looksRead, [])
    XCTAssertFalse(early.finished)
  }

  func testGeometricMeanIntervalOnTheLogScaleMatchesScipy() throws {
    let ratios = [0.45, 0.52, 0.61, 0.40, 0.48]
    let seeds = ratios.enumerated().map { i, r in
      SpeedUp.Seed(seed: UInt64(i), seconds: 100, value: 0.1, dsmEquivalent: .exact(100 * r), speedUp: .exact(r))
    }
    let s = SpeedUp(name: "x", slug: "x", metric: .kid, perSeed: seeds)
    let g = try XCTUnwrap(s.geometricMean)
    XCTAssertEqual(g.mean, 0.48704533081355056, accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(g.low), 0.4001509525891772, accuracy: 1e-9)
    XCTAssertEqual(try XCTUnwrap(g.high), 0.5928091704702761, accuracy: 1e-9)
    XCTAssertEqual(s.slower, 5)
    XCTAssertEqual(s.signTestP, 0.0625, accuracy: 1e-12, "2 · 0.5⁵")
  }

  func testIsotonicFitMatchesScipyAndInvertsWithBounds() throws {
    let fit = decreasingIsotonicFit([0.30, 0.25, 0.27, 0.18, 0.19, 0.15, 0.16])
    for (a, b) in zip(fit, [0.3, 0.26, 0.26, 0.185, 0.185, 0.155, 0.155]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    let curve = [(seconds: 10.0, value: 0.30), (20, 0.25), (30, 0.27), (40, 0.18), (50, 0.19), (60, 0.15), (70, 0.16)]
    // 0.2 lies between the fitted 0.26 (at 30 s) and 0.185 (at 40 s); on log-log axes:
    // 30 · (40/30)^(ln(0.26/0.2) / ln(0.26/0.185)) = 37.448905863533184.
    guard case let .exact(t) = try XCTUnwrap(equivalentTime(of: 0.2, on: curve)) else { return XCTFail("on the curve") }
    XCTAssertEqual(t, 37.448905863533184, accuracy: 1e-9)
    XCTAssertEqual(equivalentTime(of: 0.35, on: curve), .atMost(10), "worse than the first point: at most its time")
    XCTAssertEqual(equivalentTime(of: 0.10, on: curve), .atLeast(70), "better than the curve ever got: beyond its end")
    // Bounds are reported as bounds and counted by the sign test, never averaged as exact values.
    let seeds = [CurveTime.exact(2.1), .atLeast(2.0), .exact(1.8)].enumerated().map { i, r in
      SpeedUp.Seed(seed: UInt64(i), seconds: 1, value: 0, dsmEquivalent: r, speedUp: r)
    }
    let s = SpeedUp(name: "x", slug: "x", metric: .kid, perSeed: seeds)
    XCTAssertNil(s.geometricMean)
    guard case let .atLeast(b)? = s.bound else { return XCTFail("a lower bound") }
    XCTAssertEqual(b, pow(2.1 * 2.0 * 1.8, 1.0 / 3), accuracy: 1e-12)
    XCTAssertEqual(s.faster, 3)
    XCTAssertTrue(s.sentence(reference: "DSM only").contains("at least"), s.sentence(reference: "DSM only"))
  }
}
