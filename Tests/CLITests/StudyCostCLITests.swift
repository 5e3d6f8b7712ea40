import Foundation
import XCTest

/// `study run PLAN --dry-run` prints what the plan will cost; `--estimate` measures the rates here.
final class StudyCostCLITests: XCTestCase {
  func testDryRunPrintsTheCostAndEstimateMeasuresIt() throws {
    let dir = CLI.temporaryDirectory("study-cost")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let planURL = dir.appendingPathComponent("plan.yaml")
    try StudyStatusCLITests.plan.write(to: planURL, atomically: true, encoding: .utf8)
    let args = ["study", "run", planURL.path, "--out", dir.appendingPathComponent("out").path, "--dry-run"]

    // A compare: steps plan has no calibration: steps known, times not, and the output says why.
    let listed = try CLI.run(args)
    XCTAssertEqual(listed.status, 0, listed.stderr)
    XCTAssertTrue(listed.stdout.contains("cost on this machine, 2 seeds per variant"), listed.stdout)
    XCTAssertTrue(listed.stdout.contains("total (shared stages once)") && listed.stdout.contains("344"), "(6 + 80) × 2 variants × 2 seeds: \(listed.stdout)")
    XCTAssertTrue(listed.stdout.contains("not estimated: training of 16px p4 c3 d32x3 h2"), listed.stdout)
    XCTAssertTrue(listed.stdout.contains("no calibration on record has this setting"), listed.stdout)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path), "a dry run writes nothing")

    let measured = try CLI.run(args + ["--estimate"])
    XCTAssertEqual(measured.status, 0, measured.stderr)
    XCTAssertTrue(measured.stdout.contains("rates measured now: --estimate"), measured.stdout)
    XCTAssertFalse(measured.stdout.contains("not estimated"), measured.stdout)
    let predicted = try XCTUnwrap(measured.stdout.split(separator: "\n").first { $0.hasPrefix("predicted: ") }, measured.stdout)
    XCTAssertTrue(predicted.contains(" in all, ") && predicted.contains("device-hours"), String(predicted))
    XCTAssertTrue(measured.stderr.contains("measuring training step of 16px"), measured.stderr)

    let refused = try CLI.run(["study", "run", planURL.path, "--estimate"])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.stderr.contains("--estimate measures what --dry-run predicts"), refused.stderr)
  }
}
