// Staging and temporary files are created, never opened through what is already there: a link planted
// at a staging name is replaced, not followed; a private folder is 0700 with an unguessable name.
import Datasets
import Foundation
import XCTest
@testable import Training

final class PrivateFilesTests: XCTestCase {
  func temporary() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("private-files-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  func testAtomicWritesDoNotFollowALinkAtTheirStagingName() throws {
    let dir = try temporary()
    let victim = dir.appendingPathComponent("victim.txt")
    try Data("keep".utf8).write(to: victim)
    let target = dir.appendingPathComponent("summary.json")
    let staging = StagingName.url(for: target)
    try FileManager.default.createSymbolicLink(at: staging, withDestinationURL: victim)
    try writeAtomically(Data("new".utf8), to: target)
    XCTAssertEqual(try Data(contentsOf: victim), Data("keep".utf8), "the write went through the planted link")
    XCTAssertEqual(try Data(contentsOf: target), Data("new".utf8))
    XCTAssertFalse(FileManager.default.fileExists(atPath: staging.path))
    // The low-level writer refuses an existing name outright.
    XCTAssertThrowsError(try writeDurably(Data("x".utf8), to: victim)) { XCTAssertTrue(($0 as? FileSystemError)?.exists == true) }
    XCTAssertEqual(try Data(contentsOf: victim), Data("keep".utf8))
  }

  func testPrivateFoldersAreUnguessableAndOnlyTheUsers() throws {
    let a = try makePrivateDirectory(prefix: "maskdm-test"), b = try makePrivateDirectory(prefix: "maskdm-test")
    defer { [a, b].forEach { try? FileManager.default.removeItem(at: $0) } }
    XCTAssertNotEqual(a, b)
    var s = stat()
    XCTAssertEqual(stat(a.path, &s), 0)
    XCTAssertEqual(s.st_mode & 0o777, 0o700)
    let file = a.appendingPathComponent("hostfile.json")
    try writePrivateFile(Data("[]".utf8), to: file)
    XCTAssertEqual(stat(file.path, &s), 0)
    XCTAssertEqual(s.st_mode & 0o777, 0o600)
  }

  func testOutputTargetsRefuseTheUsersFolders() throws {
    let dir = try temporary()
    try Data("mine".utf8).write(to: dir.appendingPathComponent("config.yaml"))
    XCTAssertThrowsError(try RunDirectory(dir).checkOwnership()) { XCTAssertTrue("\($0)".contains("config.yaml"), "\($0)") }
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
    XCTAssertNoThrow(try RunDirectory(dir).checkOwnership(), "a run directory of this tool")
    XCTAssertNoThrow(try RunDirectory(dir.appendingPathComponent("new")).checkOwnership())
    XCTAssertTrue(OutputTarget.sameFile(dir.appendingPathComponent("config.yaml"), dir.appendingPathComponent("./checkpoints/../config.yaml")))
  }
}
