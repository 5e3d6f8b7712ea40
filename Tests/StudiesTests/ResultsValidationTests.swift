// A hand-edited or truncated results file is named as damaged when read, never shown as "not run"
// nor printed as a result (`nan`, -1e308).
import Foundation
import Training
import XCTest
@testable import Studies

final class ResultsValidationTests: XCTestCase {
  func testDamagedResultsAreNamedAndLeftOut() throws {
    let e = try Experiment(plan: try StudyPlan(yaml: PlanNamesTests.plan(), name: "t"))
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("results-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let dir = StudyDirectory(root)
    XCTAssertEqual(e.variants.count, 2)
    let (good, bad) = (e.variants[0], e.variants[1])
    try dir.write(stubResult(e, good, fid: 50), to: dir.result(good))
    try dir.write(stubResult(e, bad, fid: 50), to: dir.result(bad))
    let json = try resultsEncoder.encode(stubResult(e, bad, fid: 50))
    let text = String(decoding: json, as: UTF8.self)

    // Each edit of a whole file, and what the error must name.
    let edits: [(String, String)] = [
      (String(text.prefix(text.count / 2)), "not valid JSON"),
      (text.replacingOccurrences(of: "\"fid\" : 50", with: "\"fid\" : \"nan\""), "fid is nan"),
      (text.replacingOccurrences(of: "\"fid\" : 50", with: "\"fid\" : -1e308"), "fid is -1e+308"),
      (text.replacingOccurrences(of: "\"samples\" : 8", with: "\"samples\" : 1"), "samples is 1"),
      (text.replacingOccurrences(of: "\"kid_std\" : 0.001", with: "\"kid_std\" : 0.001, \"precision\" : 7"), "precision is 7"),
      (text.replacingOccurrences(of: "\"run_directory\" : \"runs\\/", with: "\"run_directory\" : \"..\\/..\\/"), "run_directory"),
      (text.replacingOccurrences(of: "\"status\" : \"finished\"", with: "\"status\" : \"done\""), "status"),
      (text.replacingOccurrences(of: String(repeating: "0f", count: 32), with: "0F"), "weights \"0F\" is not a SHA-256"),
    ]
    for (edited, expected) in edits {
      XCTAssertNotEqual(edited, text, "the edit for \(expected) changed nothing")
      try Data(edited.utf8).write(to: dir.result(bad))
      let (results, damaged) = dir.recorded(e, repeats: 1)
      XCTAssertEqual(results.map(\.slug), [good.slug], expected)
      XCTAssertEqual(damaged.count, 1, expected)
      XCTAssertEqual(damaged.first?.file.path, dir.result(bad).path)
      XCTAssertTrue(damaged.first.map { "\($0)".contains(expected) } ?? false, "\(damaged.first.map { "\($0)" } ?? "none") should say \(expected)")
    }
    // The whole file reads back as it was written.
    try json.write(to: dir.result(bad))
    XCTAssertEqual(dir.recorded(e, repeats: 1).damaged, [])
    XCTAssertEqual(dir.recorded(e, repeats: 1).results.count, 2)
  }
}
