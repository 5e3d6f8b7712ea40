// A dataset is trained as declared: CLASSES is honoured or refused with a message for every kind of
// dataset (a prepared folder once ignored it without a word).
import Datasets
import Foundation
import XCTest
@testable import Training

final class DeclaredDatasetTests: ScratchCacheTestCase {
  func config(_ name: String, path: String = "", classes: [Int]?) -> TrainConfig {
    var c = TrainConfig()
    (c.dataset.name, c.dataset.path, c.dataset.classes) = (name, path, classes)
    (c.network.imageSize, c.network.channels) = (8, 3)
    return c
  }

  func testClassesOfAPreparedDatasetMustBeTheOnesItHolds() throws {
    let all = scratch.appendingPathComponent("all"), some = scratch.appendingPathComponent("some")
    try prepareDataset(.synthetic(count: 20, seed: 1), options: PrepareOptions(size: 8, channels: 3), to: all)
    try prepareDataset(.synthetic(count: 20, seed: 1), options: PrepareOptions(size: 8, channels: 3, classes: [1, 3]), to: some)
    XCTAssertThrowsError(try resolveDataset(config("prepared", path: all.path, classes: [1]))) { error in
      XCTAssertTrue("\(error)".contains("cannot be applied to the prepared dataset") && "\(error)".contains("every class"), "\(error)")
    }
    XCTAssertThrowsError(try resolveDataset(config("prepared", path: some.path, classes: [1])))
    XCTAssertNoThrow(try resolveDataset(config("prepared", path: some.path, classes: [3, 1])), "the classes it was prepared with")
    XCTAssertNoThrow(try resolveDataset(config("prepared", path: all.path, classes: nil)))
  }

  func testClassesOfAnUnlabelledSourceAreRefused() throws {
    let images = scratch.appendingPathComponent("images")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    for kind in ["folder", "celebahq", "lsun", "celeba"] {
      XCTAssertThrowsError(try resolveDataset(config(kind, path: images.path, classes: [0])), kind) { error in
        XCTAssertTrue("\(error)".contains("has no labels"), "\(kind): \(error)")
      }
    }
  }
}
