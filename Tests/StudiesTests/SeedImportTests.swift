// Every markdown plan in plans/seeds (and $MASKDM_SEEDS_DIR) imports into a plan that expands,
// with one study per `###` ablation and the parts read as the seed means them.
import Foundation
import XCTest
@testable import Studies

final class SeedImportTests: XCTestCase {
  static var seeds: [URL] {
    var dirs = [PlanTests.root.appendingPathComponent("plans/seeds")]
    if let extra = ProcessInfo.processInfo.environment["MASKDM_SEEDS_DIR"] { dirs.append(URL(fileURLWithPath: extra)) }
    return dirs.flatMap { (try? FileManager.default.contentsOfDirectory(at: $0, includingPropertiesForKeys: nil)) ?? [] }
      .filter { $0.pathExtension == "txt" || $0.pathExtension == "md" }.sorted { $0.path < $1.path }
  }

  func testEverySeedImportsIntoARunnablePlan() throws {
    let seeds = Self.seeds
    XCTAssertGreaterThanOrEqual(seeds.count, 2, "the seed plans in plans/seeds")
    for url in seeds {
      let text = try String(contentsOf: url, encoding: .utf8)
      let headings = text.components(separatedBy: "Ablation Plan").last!.components(separatedBy: .newlines).filter { $0.hasPrefix("### ") }
      let yaml = try explainedImport(text, name: url.deletingPathExtension().lastPathComponent).yaml
      for preset in ["quick", "paper"] {
        let e = try Experiment(plan: try StudyPlan(yaml: yaml, name: "seed", preset: preset))
        XCTAssertEqual(e.studies.count, headings.count, "\(url.lastPathComponent): one study per ablation")
        XCTAssertGreaterThanOrEqual(e.variants.count, 2)
      }
      print("imported \(url.lastPathComponent): \(headings.count) ablations")
    }
  }

  func testTheTwoShippedSeedsMeanWhatTheySay() throws {
    let md000 = """
      ## Ablation Plan
      ### Ablate Positional Information H
      - **Ablated Part**: Addition of positional information H to the input before masking in the masked pre-training stage.
      - **Action**: REMOVE
      - **Metrics**: FID, Training Time (GPU Days)

      ### Single-stage Masked Training
      - **Ablated Part**: Two-stage training framework (masked pre-training + denoising fine-tuning)
      - **Action**: REPLACE
      - **Replacement**:
        - Single-stage training using the Masked Denoising Score Matching (MDSM) objective (Eq. 2) for the total training duration.
      - **Metrics**: FID, Training Time (GPU Days)
      """
    let a = try parseMarkdownPlan(md000)
    XCTAssertEqual(a.map(\.action), ["REMOVE", "REPLACE"])
    XCTAssertEqual(a[1].replacements.count, 1)
    XCTAssertEqual(a[0].metrics, ["FID", "Training Time (GPU Days)"])
    let e = try Experiment(plan: try StudyPlan(yaml: try explainedImport(md000, name: "s0").yaml))
    XCTAssertEqual(e.studies[0].part, "position embedding")
    XCTAssertEqual(e.studies[1].rows.map(\.label), ["two-stage (MaskDM)", "MDSM only", "DSM only"])

    let md001 = """
      ## Ablation Plan
      ### Ablation A
      - **Ablated Part**: masking rate
      - **Action**: REPLACE
      - **Replacement**:
        - 0.1
        - 90%
      ### Ablation B
      - **Ablated Part**: pre-training dataset
      - **Action**: REPLACE
      - **Replacement**:
        - CelebA
        - FFHQ
      """
    let e1 = try Experiment(plan: try StudyPlan(yaml: try explainedImport(md001, name: "s1").yaml))
    XCTAssertEqual(e1.studies[0].rows.map(\.label), ["two-stage (MaskDM) = 0.9", "0.1"])
    XCTAssertEqual(e1.studies[1].rows.map(\.label), ["CelebA", "FFHQ"])
  }

  func testAnUnknownPartIsAnErrorListingTheKnownOnes() {
    let md = "## Ablation Plan\n### X\n- **Ablated Part**: the colour of the logo\n- **Action**: REMOVE\n"
    XCTAssertThrowsError(try explainedImport(md, name: "x").yaml) { error in
      let m = "\(error)"
      XCTAssertTrue(m.contains("the colour of the logo") && m.contains("mask rate") && m.contains("pre-training dataset"), m)
    }
    XCTAssertThrowsError(try parseMarkdownPlan("just prose")) { XCTAssertTrue("\($0)".contains("no ablations found")) }
  }
}
