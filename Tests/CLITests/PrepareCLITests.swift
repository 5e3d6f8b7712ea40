import Foundation
import XCTest

/// `maskdm prepare` never deletes what it did not write: a folder of the user's is refused, `-o .`
/// fills the folder itself, and the staging folder of a prepare killed with SIGKILL is removed by
/// the next one, which says so.
final class PrepareCLITests: XCTestCase {
  func testOutputFoldersOfTheUserAreKept() throws {
    let dir = CLI.temporaryDirectory("prepare")
    defer { try? FileManager.default.removeItem(at: dir) }
    let notes = dir.appendingPathComponent("d")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
    try "x\n".write(to: notes.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
    let refused = try CLI.run(["prepare", "synthetic:20", "-o", "d"], in: dir)
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.stderr.contains("notes.txt") && refused.stderr.contains("nothing was changed"), refused.stderr)
    XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("notes.txt"), encoding: .utf8), "x\n")

    // `-o .` in a folder of the user's with a file in it: refused; in an empty one: filled in place
    // (the same folder, not a new one swapped in under the shell that is in it).
    let refusedHere = try CLI.run(["prepare", "synthetic:20", "-o", "."], in: notes)
    XCTAssertNotEqual(refusedHere.status, 0)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: notes.path), ["notes.txt"])
    let empty = dir.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    let inode = try FileManager.default.attributesOfItem(atPath: empty.path)[.systemFileNumber] as? Int
    for round in 0..<2 {  // the second round replaces the first's prepared dataset
      let here = try CLI.run(["prepare", "synthetic:\(20 + round)", "-o", "."], in: empty)
      XCTAssertEqual(here.status, 0, here.stderr)
      XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: empty.path)[.systemFileNumber] as? Int, inode)
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty.path).sorted(), ["labels.i32", "manifest.json", "pixels.u8"])
      let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: empty.appendingPathComponent("manifest.json"))) as? [String: Any]
      XCTAssertEqual(manifest?["count"] as? Int, 20 + round)
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
  }

  func testStagingFolderOfAKilledPrepareIsRemovedByTheNext() throws {
    let dir = CLI.temporaryDirectory("prepare-kill")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    func staging() -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix(".d.tmp-") }.sorted()
    }
    // Packing 50000 images takes seconds: it is killed as soon as its staging folder exists.
    let process = try CLI.start(["prepare", "synthetic:50000", "-o", "d"], in: dir)
    let deadline = Date().addingTimeInterval(60)
    while staging().isEmpty, process.isRunning, Date() < deadline { usleep(1000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "prepare finished before it could be killed")
    let left = staging()
    XCTAssertEqual(left.count, 1, "\(left)")
    // One of another host (its writer may be running on a shared file system) is left alone.
    let foreign = dir.appendingPathComponent(".d.tmp-another.host-1")
    try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)

    let next = try CLI.run(["prepare", "synthetic:20", "-o", "d"], in: dir)
    XCTAssertEqual(next.status, 0, next.stderr)
    XCTAssertTrue(next.stderr.contains("removed \(left[0])") && next.stderr.contains("killed"), next.stderr)
    XCTAssertEqual(staging(), [foreign.lastPathComponent])
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("d/manifest.json").path))
  }
}
