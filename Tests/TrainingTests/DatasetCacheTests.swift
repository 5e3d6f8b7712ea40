import Datasets
import Foundation
@testable import Training
import XCTest

/// The dataset cache follows the images: it is keyed by the folder's absolute path and packed again
/// when the folder's files change (once, training silently used the old cache).
final class DatasetCacheTests: ScratchCacheTestCase {
  /// A folder of `count` 8x8 RGB images of one grey level each.
  func folder(_ name: String, level: UInt8, count: Int = 3) throws -> URL {
    let dir = scratch.appendingPathComponent(name).appendingPathComponent("images")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for i in 0..<count {
      try writePNG(pixels: [UInt8](repeating: level, count: 8 * 8 * 3), width: 8, height: 8, channels: 3,
                   to: dir.appendingPathComponent("img\(i).png"))
    }
    return dir
  }

  func config(path: String) throws -> TrainConfig {
    try TrainConfig(yaml: "dataset:\n  NAME: folder\n  PATH: \"\(path)\"\n  IMG_SIZE: 8\nnetwork:\n  patch_size: 4\n  encoder_heads: 4\n  encoder_embed_dim: 16")
  }

  func testChangedImagesArePackedAgainAndSaidSo() throws {
    let dir = try folder("a", level: 10)
    var notices: [String] = []
    XCTAssertEqual(try resolveDataset(try config(path: dir.path), notice: { notices.append($0) }).image(0)[0], 10)
    XCTAssertEqual(notices, [], "a first packing is no change")
    XCTAssertEqual(try resolveDataset(try config(path: dir.path), notice: { notices.append($0) }).image(0)[0], 10)
    XCTAssertEqual(notices, [], "an unchanged folder reuses its cache")
    try writePNG(pixels: [UInt8](repeating: 200, count: 8 * 8 * 3), width: 8, height: 8, channels: 3,
                 to: dir.appendingPathComponent("img0.png"))
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)],
                                          ofItemAtPath: dir.appendingPathComponent("img0.png").path)
    XCTAssertEqual(try resolveDataset(try config(path: dir.path), notice: { notices.append($0) }).image(0)[0], 200)
    XCTAssertEqual(notices.count, 1)
    XCTAssertTrue(notices[0].contains("changed since they were packed"), notices[0])
  }

  func testTheSameRelativePathFromAnotherDirectoryIsAnotherFolder() throws {
    _ = try folder("one", level: 30)
    _ = try folder("two", level: 90)
    let previous = FileManager.default.currentDirectoryPath
    defer { FileManager.default.changeCurrentDirectoryPath(previous) }
    var levels: [UInt8] = []
    for name in ["one", "two"] {
      FileManager.default.changeCurrentDirectoryPath(scratch.appendingPathComponent(name).path)
      levels.append(try resolveDataset(try config(path: "images")).image(0)[0])
    }
    XCTAssertEqual(levels, [30, 90])
  }
}
