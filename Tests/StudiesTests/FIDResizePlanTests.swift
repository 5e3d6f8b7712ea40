// `evaluation.fid_resize`: read from the plan, part of a variant's identity (in the canonical encoding;
// the first encoding left the default out, which the migration of old studies keeps), and recorded in the protocol.
import Foundation
import XCTest
@testable import Studies

final class FIDResizePlanTests: XCTestCase {
  static let plan = """
    name: resize
    compare: steps
    base: {dataset: {NAME: synthetic, COUNT: 64, IMG_SIZE: 16}, network: {img_size: 16, patch_size: 4, encoder_embed_dim: 32, encoder_depth: 3, encoder_heads: 2}}
    stages: [{name: train, steps: 5}]
    ablations: [{name: Positional information, part: position embedding, action: REMOVE}]
    """

  func experiment(_ extra: String = "") throws -> Experiment {
    try Experiment(plan: try StudyPlan(yaml: Self.plan + extra, name: "resize"))
  }

  func testDefaultIsTTURAndLeavesTheIdentityAsItWas() throws {
    let e = try experiment()
    let evaluation = e.plan.evaluation
    XCTAssertEqual(evaluation.fidResize, .ttur)
    XCTAssertTrue("\(evaluation)".contains("fidResize"))
    XCTAssertTrue(evaluation.identityEncoding.contains("fid_resize=ttur\n"), evaluation.identityEncoding)
    // The first encoding printed the protocol without the default resize (studies run before it was a choice).
    XCTAssertFalse(IdentityMigration.legacyText(evaluation).contains("fidResize"))
    XCTAssertTrue(IdentityMigration.legacyText(evaluation).hasSuffix("along: nil)"))
    XCTAssertEqual(e.variants.first?.key, variantKey(e.variants[0].stages, evaluation))
    let p = StudyProtocol(experiment: e, repeats: 1, machine: .current)
    XCTAssertEqual(p.fidResize, "ttur")
    XCTAssertTrue(p.fidImplementation.contains("TF1 bilinear"))
  }

  func testCleanIsReadKeyedAndRecorded() throws {
    let ttur = try experiment()
    let clean = try experiment("\nevaluation: {fid_resize: clean}")
    XCTAssertEqual(clean.plan.evaluation.fidResize, .clean)
    XCTAssertTrue(clean.plan.evaluation.identityEncoding.contains("fid_resize=clean\n"))
    XCTAssertNotEqual(clean.variants[0].key, ttur.variants[0].key, "a clean FID is not a TTUR one: its results are its own")
    XCTAssertNotEqual(clean.plan.evaluation.cacheKey, ttur.plan.evaluation.cacheKey)
    let p = StudyProtocol(experiment: clean, repeats: 1, machine: .current)
    XCTAssertEqual(p.fidResize, "clean")
    XCTAssertTrue(p.fidImplementation.contains("PIL bicubic"), p.fidImplementation)
    XCTAssertTrue(StudyReport(experiment: clean, results: [], repeats: 1, machine: .current).evaluationSentence.contains("clean-fid"))
    XCTAssertThrowsError(try experiment("\nevaluation: {fid_resize: lanczos}")) {
      XCTAssertTrue("\($0)".contains("evaluation.fid_resize must be ttur or clean (got lanczos)"), "\($0)")
    }
  }
}
