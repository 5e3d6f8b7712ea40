// The interval arithmetic against values computed independently: scipy 1.17.1 (`scipy.stats.t.ppf`,
// `scipy.stats.t.cdf`, and numpy's mean/std(ddof=1) for the intervals), written here as numbers.
import XCTest
@testable import Studies

final class UncertaintyTests: XCTestCase {
  /// scipy.stats.t.ppf(0.975, df) for df = 1 ... 99.
  static let scipyT975: [(Double, Double)] = [
    (1, 12.706204736174694), (2, 4.302652729749462), (3, 3.1824463052837078), (4, 2.7764451051977934),
    (5, 2.5705818356363146), (6, 2.4469118511449786), (7, 2.364624251592784), (9, 2.262157162798205),
    (19, 2.0930240544083087), (29, 2.045229642132703), (99, 1.9842169515864174),
  ]

  func testStudentTQuantilesMatchScipy() {
    for (df, expected) in Self.scipyT975 {
      XCTAssertEqual(studentTQuantile(0.975, degreesOfFreedom: df), expected, accuracy: 1e-10 * expected, "df \(df)")
      XCTAssertEqual(studentTQuantile(0.025, degreesOfFreedom: df), -expected, accuracy: 1e-10 * expected, "df \(df)")
    }
  }

  func testStudentTCDFMatchesScipy() {
    // scipy.stats.t.cdf(1.5, 3), t.cdf(-0.7, 10), t.cdf(2.2, 1)
    XCTAssertEqual(studentTCDF(1.5, degreesOfFreedom: 3), 0.8847080673775886, accuracy: 1e-12)
    XCTAssertEqual(studentTCDF(-0.7, degreesOfFreedom: 10), 0.2499437850864422, accuracy: 1e-12)
    XCTAssertEqual(studentTCDF(2.2, degreesOfFreedom: 1), 0.8642002512199081, accuracy: 1e-12)
    XCTAssertEqual(studentTCDF(0, degreesOfFreedom: 4), 0.5, accuracy: 1e-15)
  }

  /// Four training seeds of two-stage and DSM-only at one budget (FIDs of a measured demo run).
  static let twoStage = [143.2, 174.1, 144.7, 141.3], dsmOnly = [174.2, 197.7, 211.2, 168.4]

  func testMeanIntervalMatchesNumpyAndScipy() throws {
    // m = a.mean(); h = t.ppf(0.975, 3) * a.std(ddof=1) / 2  ->  150.825, [126.03547448685839, 175.6145255131416]
    let e = Estimate(values: Self.twoStage)
    XCTAssertEqual(e.mean, 150.825, accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(e.low), 126.03547448685839, accuracy: 1e-9)
    XCTAssertEqual(try XCTUnwrap(e.high), 175.6145255131416, accuracy: 1e-9)
    XCTAssertEqual(e.source, .seeds)
    XCTAssertNil(Estimate(values: [3]).low, "one value has no interval")
  }

  func testPairedDifferenceAndVerdicts() throws {
    func bySeed(_ v: [Double]) -> [UInt64: Double] { Dictionary(uniqueKeysWithValues: v.enumerated().map { (UInt64($0 + 1), $1) }) }
    // d = dsm - two-stage; 4 seeds: mean 37.05, CI [5.440948503384682, 68.65905149661532]
    let four = pairedDifference(bySeed(Self.dsmOnly), bySeed(Self.twoStage))
    XCTAssertEqual(four.mean, 37.05, accuracy: 1e-9)
    XCTAssertEqual(try XCTUnwrap(four.low), 5.440948503384682, accuracy: 1e-9)
    XCTAssertEqual(try XCTUnwrap(four.high), 68.65905149661532, accuracy: 1e-9)
    func verdict(_ d: Estimate) -> Verdict {
      FamilyDecision(design: .fixed(d.n)).decide(differences: [d.values], margins: [nil]).decisions[0].verdict
    }
    XCTAssertEqual(verdict(four), .worse, "DSM only's FID is higher at every seed and the interval excludes 0")
    // the first three seeds: mean 40.36666666666667, CI [-16.601025981868816, 97.33435931520215]
    let three = pairedDifference(bySeed(Array(Self.dsmOnly.prefix(3))), bySeed(Self.twoStage))
    XCTAssertEqual(three.n, 3, "only the seeds both have are paired")
    XCTAssertEqual(try XCTUnwrap(three.low), -16.601025981868816, accuracy: 1e-9)
    XCTAssertEqual(try XCTUnwrap(three.high), 97.33435931520215, accuracy: 1e-9)
    XCTAssertEqual(verdict(three), .noClearDifference)
    let reversed = pairedDifference(bySeed(Self.twoStage), bySeed(Self.dsmOnly))
    XCTAssertEqual(verdict(reversed), .better)
    XCTAssertEqual(verdict(pairedDifference([1: 3], [1: 4])), .oneSeed)
  }

  func testRoundTicks() {
    XCTAssertEqual(roundTicks((24.8, 74.5)), [20, 30, 40, 50, 60, 70, 80])
    XCTAssertEqual(roundTicks((0, 93)), [0, 20, 40, 60, 80, 100])
    let small = roundTicks((0.013, 0.061))
    XCTAssertEqual(small.count, 7)
    for (t, e) in zip(small, [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07]) { XCTAssertEqual(t, e, accuracy: 1e-12) }
    for range in [(1.0, 7.3), (112.0, 146.0), (0.2, 0.25), (-3.0, 11.0)] {
      let t = roundTicks(range)
      XCTAssertLessThanOrEqual(t.first!, range.0)
      XCTAssertGreaterThanOrEqual(t.last!, range.1)
      let step = t[1] - t[0]
      let mantissa = step / pow(10, floor(log10(step)))
      XCTAssertTrue([1, 2, 5].contains { abs(mantissa - $0) < 1e-9 }, "step \(step) of \(range)")
    }
    XCTAssertEqual(tickLabel(0.05), "0.05")
    XCTAssertEqual(tickLabel(40), "40")
  }
}
