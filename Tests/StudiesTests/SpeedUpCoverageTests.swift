// The DSM-equivalent speed-up on synthetic curves with a known speed-up: DSM only's metric falls as a
// power of training time, KID(t) = 0.05 + 0.4·(t / 30)^-0.8, each seed scaled by its own factor (seed to
// seed sd 3%, as the controls study measured for KID) and each point measured with 2% noise. DSM only is
// evaluated every 30 s to 180 s (twice the compared 90 s); a variant with true speed-up s ends its 90 s at
// the value DSM only's true curve has at s·90 s. Over many simulated studies of 6 seeds the 95% interval
// must cover the true s about 95% of the time, and a variant better than DSM only ever got is a bound.
import Foundation
import XCTest
@testable import Studies

final class SpeedUpCoverageTests: XCTestCase {
  static func truth(_ t: Double) -> Double { 0.05 + 0.4 * pow(t / 30, -0.8) }

  /// One simulated study's speed-up summary for a true speed-up `s`.
  static func study(_ s: Double, seeds: Int, _ g: inout VerdictErrorRateTests.Normal) -> SpeedUp {
    let budget = 90.0, times = stride(from: 30.0, through: 180, by: 30).map { $0 }
    let perSeed = (0..<seeds).map { seed -> SpeedUp.Seed in
      let scale = exp(0.03 * g.next())
      let curve = times.map { (seconds: $0, value: truth($0) * scale * (1 + 0.02 * g.next())) }
      let value = truth(s * budget) * scale * (1 + 0.02 * g.next())
      let time = equivalentTime(of: value, on: curve)!
      let ratio: CurveTime
      switch time {
      case let .exact(t): ratio = .exact(t / budget)
      case let .atMost(t): ratio = .atMost(t / budget)
      case let .atLeast(t): ratio = .atLeast(t / budget)
      }
      return .init(seed: UInt64(seed), seconds: budget, value: value, dsmEquivalent: time, speedUp: ratio)
    }
    return SpeedUp(name: "v", slug: "v", metric: .kid, perSeed: perSeed)
  }

  func testTheIntervalCoversTheTrueSpeedUpAtItsNominalRate() throws {
    for (i, s) in [1.0, 1.25, 1.6].enumerated() {
      var g = VerdictErrorRateTests.Normal(state: 900 + UInt64(i))
      var covered = 0, studies = 0
      for _ in 0..<1000 {
        let summary = Self.study(s, seeds: 6, &g)
        guard let gm = summary.geometricMean, let lo = gm.low, let hi = gm.high else { continue }
        studies += 1
        if lo <= s && s <= hi { covered += 1 }
      }
      let rate = Double(covered) / Double(studies)
      print("true speed-up \(s): the interval covered it in \(covered) of \(studies) studies (\(rate))")
      XCTAssertGreaterThan(studies, 950, "a speed-up within DSM only's curve is exact in almost every study")
      // 95% nominal; three Monte-Carlo standard errors (0.0069 each at 1000 studies) below it.
      XCTAssertGreaterThanOrEqual(rate, 0.95 - 3 * 0.0069, "coverage at \(s)x")
    }
  }

  func testBeyondDSMOnlysCurveIsABoundNeverAnExactValue() throws {
    var g = VerdictErrorRateTests.Normal(state: 999)
    // 2.5x: the variant ends better than DSM only is at 180 s (2x its budget) in every seed.
    let beyond = Self.study(2.5, seeds: 6, &g)
    XCTAssertNil(beyond.geometricMean)
    guard case let .atLeast(b)? = beyond.bound else { return XCTFail("a lower bound: \(beyond)") }
    XCTAssertEqual(b, 2, accuracy: 0.05, "the bound is DSM only's reach, 2x")
    XCTAssertEqual(beyond.faster, 6)
    XCTAssertEqual(beyond.signTestP, 2 * pow(0.5, 6), accuracy: 1e-12)
    // 0.2x: worse than DSM only's first point (30 s = 0.33x) in every seed: an upper bound.
    let before = Self.study(0.2, seeds: 6, &g)
    guard case let .atMost(u)? = before.bound else { return XCTFail("an upper bound: \(before)") }
    XCTAssertEqual(u, 1.0 / 3, accuracy: 0.01)
    XCTAssertEqual(before.slower, 6)
  }
}
