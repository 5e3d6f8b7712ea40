import Foundation
import Training
import XCTest

/// SHA-256 against Python's hashlib on every golden case in Tests/Fixtures/golden/sha256_*.json
/// (scripts/make_checksum_golden.py writes them).
final class FileChecksumTests: XCTestCase {
  func testDigestsMatchHashlib() throws {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/golden")
    let files = try FileManager.default.contentsOfDirectory(atPath: golden.path)
      .filter { $0.hasPrefix("sha256_") && $0.hasSuffix(".json") }.sorted()
    XCTAssertFalse(files.isEmpty, "no sha256_*.json in \(golden.path)")
    var checked = 0
    for file in files {
      let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: golden.appendingPathComponent(file))) as? [String: Any])
      for case let entry as [String: Any] in try XCTUnwrap(document["cases"] as? [Any]) {
        let expected = try XCTUnwrap(entry["sha256"] as? String)
        let bytes: Data
        if let text = entry["text"] as? String {
          bytes = Data(text.utf8)
        } else {
          let n = try XCTUnwrap(entry["pattern_length"] as? Int)
          bytes = Data((0..<n).map { UInt8((31 * $0 + 7) % 251) })
        }
        XCTAssertEqual(sha256Hex(bytes), expected, "\(file): \(entry["text"] ?? entry["pattern_length"]!)")
        checked += 1
      }
      print("checked \(golden.appendingPathComponent(file).path)")
    }
    XCTAssertGreaterThan(checked, 10)
  }

  func testFileDigestIsTheDigestOfItsBytes() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID()).bin")
    defer { try? FileManager.default.removeItem(at: url) }
    let bytes = Data((0..<1000).map { UInt8($0 % 256) })
    try bytes.write(to: url)
    XCTAssertEqual(sha256Hex(fileAt: url), sha256Hex(bytes))
    XCTAssertNil(sha256Hex(fileAt: url.appendingPathExtension("missing")))
  }
}
