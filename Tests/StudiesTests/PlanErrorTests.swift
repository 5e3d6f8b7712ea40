// A plan with a mistake in an ablation fails when it is read, naming the plan file and line, the
// ablation, the replacement and what the part takes: one test per kind of mistake.
import Foundation
@testable import Studies
import XCTest

final class PlanErrorTests: XCTestCase {
  /// The plan `bad.yaml` with `ablation` (YAML lines, indented as list items) as its only ablation, read
  /// from a file; returns the error and the plan's text.
  func failure(_ ablation: String, extra: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> (PlanError, [String]) {
    let text = TinyPlan.base() + "\n" + extra + "ablations:\n" + ablation
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plan-errors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("bad.yaml")
    try text.write(to: url, atomically: true, encoding: .utf8)
    do {
      _ = try Experiment(plan: try StudyPlan.load(url))
    } catch let error as PlanError {
      return (error, text.components(separatedBy: "\n"))
    }
    XCTFail("the plan was read", file: file, line: line)
    throw PlanError("no error")
  }

  /// The line (1-based) of `text`'s first line containing `needle`.
  func line(of needle: String, in lines: [String]) -> Int { (lines.firstIndex { $0.contains(needle) } ?? -2) + 1 }

  func assertNames(_ e: PlanError, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    for part in parts { XCTAssertTrue(e.description.contains(part), "\"\(part)\" not in: \(e.description)", file: file, line: line) }
  }

  func testAnUnknownReplacementNamesTheReplacementItsLineAndTheChoices() throws {
    let (e, lines) = try failure("- name: Mask Type\n  part: mask type\n  replacements:\n  - patch\n  - hexagon\n")
    XCTAssertEqual(e.context, ["plan bad.yaml line \(line(of: "hexagon", in: lines))", "ablation Mask Type", "replacement 'hexagon'"])
    assertNames(e, ["unknown mask type hexagon", "patch, block N or crop [N]"])
  }

  func testABlockWithoutItsSizeSaysHowToWriteIt() throws {
    let (e, lines) = try failure("- name: Mask Type\n  part: mask type\n  replacements: [patch, block]\n")
    assertNames(e, ["plan bad.yaml line \(line(of: "[patch, block]", in: lines)) › ablation Mask Type › replacement 'block': ", "block N", "crop [N]"])
  }

  func testABadValueNamesTheValueAndHowToWriteIt() throws {
    let (e, lines) = try failure("- name: Rates\n  part: mask rate\n  replacements:\n  - 0.5\n  - lots\n")
    assertNames(e, ["plan bad.yaml line \(line(of: "lots", in: lines)) › ablation Rates › replacement 'lots': ", "not a number", "0.1 or 10%"])
  }

  func testAnUnknownPartNamesTheAblationAndTheKnownParts() throws {
    let (e, lines) = try failure("- name: Flux\n  part: flux capacitor\n  replacements: [on]\n")
    XCTAssertEqual(e.context, ["plan bad.yaml line \(line(of: "name: Flux", in: lines))", "ablation Flux"])
    assertNames(e, ["flux capacitor", "known parts", "mask rate"])
  }

  func testAnUnknownConfigurationKeyNamesTheClosestOne() throws {
    let (e, _) = try failure("- name: Width\n  part: network.mlp_ration\n  replacements: [2]\n")
    assertNames(e, ["ablation Width: ", "network.mlp_ration", "did you mean network.mlp_ratio"])
  }

  func testRemovingAPartThatCannotBeRemovedNamesItsChoices() throws {
    let (e, _) = try failure("- name: No rate\n  part: mask rate\n  action: REMOVE\n")
    assertNames(e, ["plan bad.yaml line ", "ablation No rate: ", "cannot be removed", "REPLACE", "0.1 … 0.9"])
  }

  func testAReplaceWithoutReplacementsIsAnError() throws {
    let (e, _) = try failure("- name: Rates\n  part: mask rate\n")
    assertNames(e, ["ablation Rates: ", "needs at least one replacement"])
  }

  func testAnUnknownDatasetNamesTheKnownOnes() throws {
    let (e, _) = try failure("- name: Data\n  part: pre-training dataset\n  replacements: [Atlantis]\n",
                             extra: "datasets:\n  target: {NAME: synthetic}\n")
    assertNames(e, ["ablation Data › replacement 'Atlantis': ", "dataset Atlantis is not under the plan's datasets", "target"])
  }

  func testAnUnknownSamplerNamesTheSamplers() throws {
    let (e, _) = try failure("- name: Solvers\n  part: sampler\n  replacements: [ddim 10, euler 10]\n")
    assertNames(e, ["ablation Solvers › replacement 'euler 10': ", "ddpm, ddim [steps], dpm++2m [steps]"])
  }

  func testStepsAreNoShareOfATimeBudget() throws {
    let (e, _) = try failure("- name: Length\n  part: pre-training length\n  replacements: [5000 steps]\n")
    assertNames(e, ["ablation Length › replacement '5000 steps': ", "compares at equal time", "fraction or in seconds"])
  }

  func testWhatOnlyTheScheduleDecidesFailsNamingTheAblationToo() throws {
    // The quick preset's stages with the masked one made unmasked: nothing is masked to change.
    let extra = "stages:\n- {name: pretrain, seconds: 10, set: {dataset.MASK_RATIO: 0}}\n- {name: finetune, init_from: pretrain, seconds: 10}\n"
    let (e, lines) = try failure("- name: Rates\n  part: mask rate\n  replacements: [0.5]\n", extra: extra)
    XCTAssertEqual(e.context, ["plan bad.yaml line \(line(of: "name: Rates", in: lines))", "ablation Rates"])
    assertNames(e, ["no masked stage"])
  }

  func testDPMSolverIsASamplerWhereverSamplersAre() throws {
    let yaml = TinyPlan.base() + "\nablations:\n- {name: Solvers, part: DPM-Solver++ or DDIM, replacements: [dpm-solver++ 10, dpmpp2m 20, ddim 10]}\n"
    let e = try Experiment(plan: try StudyPlan(yaml: yaml, name: "dpm"))
    XCTAssertEqual(e.plan.ablations[0].part, .sampler)
    XCTAssertEqual(e.plan.ablations[0].spelledReplacements, ["dpm++2m 10", "dpm++2m 20", "ddim 10"])
    XCTAssertEqual(e.variants.map(\.evaluation.sampler).suffix(3), [.dpmSolver2M(steps: 10), .dpmSolver2M(steps: 20), .ddim(steps: 10, eta: 0)])
  }
}

/// A study that cannot go on for a reason other than its plan is a StudyError, with the same context chain.
final class StudyErrorTests: XCTestCase {
  func testRuntimeFailuresAreNotPlanErrors() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("no-study-\(UUID().uuidString)")
    XCTAssertThrowsError(try StudyStatus.read(dir)) { e in
      XCTAssertTrue(e is StudyError, "\(type(of: e))")
      XCTAssertTrue("\(e)".contains("holds no plan.resolved.yaml"), "\(e)")
    }
    let e = StudyError("the run stopped", context: ["stage pretrain"]).within(["variant two-stage, seed 1"])
    XCTAssertEqual("\(e)", "variant two-stage, seed 1 › stage pretrain: the run stopped")
  }
}
