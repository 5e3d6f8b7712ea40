// Names are names: a plan, preset or stage name with a path in it is refused where the plan loads,
// names become file names through `fileName`, and paths read back from results stay in the study.
import Foundation
import Training
import XCTest
@testable import Studies

final class PlanNamesTests: XCTestCase {
  static func plan(name: String = "t", stage: String = "pretrain", ablation: String = "Positional information") -> String {
    """
    name: \(name.debugDescription)
    compare: steps
    base:
      dataset: {NAME: synthetic, IMG_SIZE: 16}
      network: {img_size: 16, patch_size: 4, in_chans: 3, encoder_embed_dim: 32, encoder_depth: 3, encoder_heads: 2}
    stages:
      - {name: \(stage.debugDescription), steps: 5, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: \(stage.debugDescription), steps: 5}
    evaluation: {samples: 8}
    ablations:
      - {name: \(ablation.debugDescription), part: position embedding, action: REMOVE}
    """
  }

  func assertRefused(_ yaml: String, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try StudyPlan(yaml: yaml, name: "t"), file: file, line: line) { error in
      for w in words { XCTAssertTrue("\(error)".contains(w), "\(error) should mention \(w)", file: file, line: line) }
    }
  }

  func testNamesThatAreNotNamesAreRefusedWhereThePlanLoads() throws {
    assertRefused(Self.plan(stage: "../../outside"), mentioning: ["stages[0].name", "path separator"])
    assertRefused(Self.plan(stage: ".."), mentioning: ["stages[0].name", "dot"])
    assertRefused(Self.plan(stage: "a\\b"), mentioning: ["path separator"])
    assertRefused(Self.plan(stage: "pre\ntrain"), mentioning: ["control character"])
    assertRefused(Self.plan(stage: String(repeating: "x", count: 101)), mentioning: ["at most 100"])
    assertRefused(Self.plan(name: "../escape"), mentioning: ["the plan's name", "path separator"])
    assertRefused(Self.plan(name: "/etc/cron.d/x"), mentioning: ["the plan's name"])
    assertRefused(Self.plan(ablation: "two\nlines"), mentioning: ["ablations[0].name", "control character"])
    assertRefused(Self.plan() + "\npresets: {\"../up\": {}}\npreset: \"../up\"\n", mentioning: ["preset"])
    // Ablation names are not file names (variants are stored under slugs): a / is fine there.
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan(ablation: "Mask rate / type"), name: "t"))
    XCTAssertTrue(e.variants.allSatisfy { !$0.slug.contains("/") })
    // Every run directory is one component under runs/.
    for s in e.uniqueStages { XCTAssertEqual((s.directoryName as NSString).pathComponents, [s.directoryName]) }
  }

  func testFileNameMapsAnyNameToOneComponent() {
    XCTAssertEqual(fileName("pretrain"), "pretrain")
    XCTAssertEqual(fileName("../x"), "_._x")
    XCTAssertEqual(fileName("a/b\nc"), "a_b_c")
    XCTAssertEqual(fileName(""), "_")
    XCTAssertLessThanOrEqual(fileName(String(repeating: "é", count: 300)).utf8.count, maximumNameBytes)
  }

  func testPathsReadFromResultsStayInTheStudy() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString)")
    let study = root.appendingPathComponent("study")
    try FileManager.default.createDirectory(at: study.appendingPathComponent("grids"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let secret = root.appendingPathComponent("secret.png")
    try Data("not for the report".utf8).write(to: secret)
    try Data("png".utf8).write(to: study.appendingPathComponent("grids/a.png"))
    try FileManager.default.createSymbolicLink(at: study.appendingPathComponent("grids/link.png"), withDestinationURL: secret)

    XCTAssertNoThrow(try resolveInside(study, "grids/a.png", what: "grid"))
    for bad in ["../secret.png", "grids/../../secret.png", secret.path, "grids/link.png", "", "a\nb"] {
      XCTAssertThrowsError(try resolveInside(study, bad, what: "the grid"), bad)
    }

    // A results file whose grid points outside: the report embeds nothing from it.
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan(), name: "t"))
    var r = stubResult(e, e.variants[0], fid: 50)
    r.grid = "../secret.png"
    let machine = MachineInfo(cpu: "test CPU", cores: 2, memoryGB: 24, os: "Linux", mlx: "0.32.4", gpu: false)
    let html = StudyReport(experiment: e, results: [r], repeats: 1, machine: machine).html(studyDirectory: study)
    let embedded = Data("not for the report".utf8).base64EncodedString()
    XCTAssertFalse(html.contains(embedded), "a file outside the study was inlined")
    r.grid = "grids/a.png"
    let kept = StudyReport(experiment: e, results: [r], repeats: 1, machine: machine).html(studyDirectory: study)
    XCTAssertTrue(kept.contains(Data("png".utf8).base64EncodedString()), "a grid inside the study is still shown")
  }
}
