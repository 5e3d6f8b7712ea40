import Foundation
@testable import Evaluation
import TorchFormats
import XCTest

/// Statistics no set of images can have are refused, not turned into an impossible FID.
final class StatisticsChecksTests: XCTestCase {
  let d = 3
  func identity(_ scale: Double = 1) -> [Double] { (0..<9).map { $0 % 4 == 0 ? scale : 0 } }

  func saved(_ s: FeatureStatistics) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("stats-\(UUID().uuidString).npz")
    try s.save(npz: url)
    addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }

  func testImpossibleStatisticsAreRefused() throws {
    let good = FeatureStatistics(mu: [0, 0, 0], sigma: identity(), count: 10)
    XCTAssertEqual(try frechetDistance(good, good), 0, accuracy: 1e-12)
    var nanMu = good
    nanMu.mu[1] = .nan
    var infSigma = good
    infSigma.sigma[4] = .infinity
    for (bad, what) in [(nanMu, "mu[1]"), (infSigma, "sigma[1, 1]")] {
      XCTAssertThrowsError(try frechetDistance(good, bad)) { XCTAssertTrue("\($0)".contains(what) && "\($0)".contains("finite"), "\($0)") }
      XCTAssertThrowsError(try FeatureStatistics.load(npz: try saved(bad))) { XCTAssertTrue("\($0)".contains(what), "\($0)") }
    }
    // Negative definite (gave FID -2012 once) and non-symmetric (gave -0.057) covariances, read from files.
    let negative = FeatureStatistics(mu: [0, 0, 0], sigma: identity(-5), count: 10)
    XCTAssertThrowsError(try FeatureStatistics.load(npz: try saved(negative))) { XCTAssertTrue("\($0)".contains("negative eigenvalue"), "\($0)") }
    var skew = good
    skew.sigma[1] = 0.5
    XCTAssertThrowsError(try FeatureStatistics.load(npz: try saved(skew))) { XCTAssertTrue("\($0)".contains("not symmetric"), "\($0)") }
    // Built in memory they still cannot yield a negative distance.
    XCTAssertThrowsError(try frechetDistance(negative, good)) { XCTAssertTrue("\($0)".contains("no two sets of images"), "\($0)") }
    XCTAssertNoThrow(try FeatureStatistics.load(npz: try saved(good)))
  }
}
