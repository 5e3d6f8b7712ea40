import Engine
@testable import Evaluation
import Foundation
import XCTest

/// Improved precision and recall against the reference implementation (`prdc`), on the golden feature
/// sets that scripts/precision_recall_reference.py writes (`prdc_*.safetensors`).
final class PrecisionRecallGoldenTests: XCTestCase {
  func testEqualsTheReferenceOnEveryGoldenCase() throws {
    let files = goldenFiles(prefix: "prdc_")
    XCTAssertFalse(files.isEmpty, "no prdc_*.safetensors golden files found")
    try Engine.run {
      for url in files {
        let file = try SafetensorsFile.load(url)
        let real = file.tensors["in.real"]!, fake = file.tensors["in.fake"]!
        let k = Int(file.metadata["k"] ?? "") ?? 3
        let pr = try precisionRecall(real: try real.floats(), fake: try fake.floats(), dimension: real.shape[1], k: k)
        let precision = try file.tensors["out.precision"]!.doubles()[0], recall = try file.tensors["out.recall"]!.doubles()[0]
        print("golden \(url.lastPathComponent): precision \(pr.precision) (reference \(precision)), recall \(pr.recall) (reference \(recall))")
        XCTAssertEqual(pr.precision, precision, accuracy: 1e-6, url.lastPathComponent)
        XCTAssertEqual(pr.recall, recall, accuracy: 1e-6, url.lastPathComponent)
      }
    }
  }

  /// Hand-made sets: a fake point inside a real ball counts for precision; one far away does not.
  func testCountsPointsInsideTheBalls() throws {
    // Real points on a line 0, 1, 2, 3 (k = 1: each radius is 1); fakes at 0.5 (inside) and 10 (outside).
    let real: [Float] = [0, 1, 2, 3], fake: [Float] = [0.5, 10, 10.2]
    let pr = try precisionRecall(real: real, fake: fake, dimension: 1, k: 1)
    XCTAssertEqual(pr.precision, 1.0 / 3.0, accuracy: 1e-12)
    // Fake radii (k = 1): 0.5 → 9.5, 10 → 0.2, 10.2 → 0.2; the ball around 0.5 holds reals 0, 1, 2, 3 (distances < 9.5).
    XCTAssertEqual(pr.recall, 1.0, accuracy: 1e-12)
    XCTAssertThrowsError(try precisionRecall(real: [0, 1], fake: [0, 1, 2, 3], dimension: 1, k: 3)) { error in
      XCTAssertTrue("\(error)".contains("more than 3"), "\(error)")
    }
  }
}
