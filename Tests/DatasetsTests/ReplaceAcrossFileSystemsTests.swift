// `prepare -o LINK` where LINK points to a folder on another file system: the dataset there is
// replaced whole, the old one removed only after the new one is in place (it once failed to rename
// across the file systems after the old manifest was deleted, leaving a dataset that neither loaded
// nor could be prepared again).
import Foundation
import XCTest
@testable import Datasets

final class ReplaceAcrossFileSystemsTests: XCTestCase {
  func testPrepareThroughALinkToAnotherFileSystemReplacesTheDataset() throws {
    let shm = URL(fileURLWithPath: "/dev/shm")
    var a = stat(), b = stat()
    let here = FileManager.default.temporaryDirectory
    guard access(shm.path, W_OK) == 0, stat(shm.path, &a) == 0, stat(here.path, &b) == 0, a.st_dev != b.st_dev else {
      throw XCTSkip("needs a writable /dev/shm on another file system than \(here.path)")
    }
    let elsewhere = shm.appendingPathComponent("maskdm-prepare-\(UUID().uuidString)")
    let local = here.appendingPathComponent("maskdm-link-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: local, withIntermediateDirectories: true)
    defer { [elsewhere, local].forEach { try? FileManager.default.removeItem(at: $0) } }
    let link = local.appendingPathComponent("data")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: elsewhere)

    let first = try prepareDataset(.synthetic(count: 10, seed: 1), options: PrepareOptions(size: 8, channels: 3), to: link)
    XCTAssertEqual(try PackedDataset(directory: link).count, first.count)
    let second = try prepareDataset(.synthetic(count: 7, seed: 2), options: PrepareOptions(size: 8, channels: 3), to: link)
    XCTAssertEqual(second.count, 7)
    let reread = try PackedDataset(directory: link)
    XCTAssertEqual(reread.count, 7, "the new dataset is in place")
    XCTAssertNoThrow(try reread.verify())
    XCTAssertEqual((try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)), elsewhere.path, "the link is kept")
    // Nothing is left beside either folder: no staging copy, no old dataset.
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: local.path), ["data"])
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: shm.path).filter { $0.contains(elsewhere.lastPathComponent) && $0 != elsewhere.lastPathComponent }
    XCTAssertEqual(leftovers, [])
  }
}
