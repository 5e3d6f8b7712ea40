import Foundation
@testable import Studies
import Training
import XCTest

/// The importer reads a part only on evidence specific to it, fills in what a plan leaves out with
/// the authors' defaults (and says so), and never loses a plan for one ablation it cannot read.
final class ImportPrecisionTests: XCTestCase {
  /// One ablation in the seed format.
  func ablation(_ name: String, _ part: String, _ action: String = "REPLACE", _ replacements: [String] = []) -> String {
    "### \(name)\n- **Ablated Part**: \(part)\n- **Action**: \(action)\n"
      + (replacements.isEmpty ? "" : "- **Replacement**:\n" + replacements.map { "  - \($0)\n" }.joined())
      + "- **Metrics**: FID, Training Time (GPU Days)\n\n"
  }

  func plan(_ ablations: String...) -> String { "## Ablation Plan\n\n" + ablations.joined() }

  /// The misread this importer was rewritten for: a description holding one generic word of another
  /// part's vocabulary ("length", of the pre-training length) was read as that part.
  func testAGenericWordOfAnotherPartIsNotEvidence() {
    for (wording, values) in [("Sequence length of the transformer input", ["64", "256"]), ("context length", ["64", "256"]),
                              ("length of the noise schedule", ["500", "1000"]), ("length", ["25%", "50%"])] {
      switch PlanPart.weigh(wording, replacements: values) {
      case let .success(r): XCTFail("\"\(wording)\" was read as the \(r.part.label): \(r.ranking[0].reasons)")
      case let .failure(refusal): XCTAssertFalse(refusal.message.isEmpty)
      }
    }
    // Each generic word alone, with values it could take, names no part.
    for word in ["length", "number", "size", "rate", "amount", "ratio", "share", "duration"] {
      XCTAssertThrowsError(try PlanPart.recognize(word, replacements: ["0.25", "0.5"]), word)
    }
    // The same generic word next to the words that make it specific is read.
    XCTAssertEqual(try PlanPart.recognize("length of the first stage", replacements: ["25%"]).part, .pretrainShare)
    XCTAssertEqual(try PlanPart.recognize("number of masked patches", replacements: ["0.5"]).part, .maskRate)
    XCTAssertEqual(try PlanPart.recognize("size of the subset of the target data", replacements: ["10%"]).part, .finetuneFraction)
  }

  /// A refusal names the best candidates and how to write each.
  func testARefusalNamesTheCandidates() {
    guard case let .failure(refusal) = PlanPart.weigh("length of the noise schedule", replacements: ["500", "1000"]) else {
      return XCTFail("read")
    }
    XCTAssertEqual(refusal.candidates.first?.part, .noiseSchedule)
    XCTAssertTrue(refusal.message.contains("write the part as \"noise schedule\""), refusal.message)
    XCTAssertTrue(refusal.message.contains("2/2 replacements are not its values"), refusal.message)
  }

  /// A mask kind without its size takes the authors' default; a fraction without its unit and a
  /// sampler's steps without its name are read and said; all in `--explain` and the plan's comments.
  func testUnderSpecifiedValuesTakeTheDefaultsAndSaySo() throws {
    let text = plan(ablation("Masks", "masking strategy", "REPLACE", ["block", "crop", "patch"]),
                    ablation("Rate", "masking ratio", "REPLACE", ["50", "90"]),
                    ablation("Steps", "number of sampling steps", "REPLACE", ["25", "50"]))
    let imported = try importPlan(text, name: "defaults")
    XCTAssertNil(imported.failure)
    let plan = try StudyPlan(yaml: imported.yaml, name: "defaults")
    XCTAssertEqual(plan.ablations.map { $0.spelledReplacements }, [["block 4", "crop", "patch"], ["0.5", "0.9"], ["ddim 25", "ddim 50"]])
    let explained = imported.explanation.joined(separator: "\n")
    for said in ["block has no block size: 4 patches a side, the authors' default (MASK_BLOCK_SIZE 4",
                 "crop has no window size: the visible window keeps the unmasked share of the patches",
                 "50 has no unit: read as 50%", "25 names no sampler: DDIM"] {
      XCTAssertTrue(explained.contains(said), "--explain does not say \(said):\n\(explained)")
      XCTAssertTrue(imported.yaml.contains("# " + said) || imported.yaml.contains(said), "the plan's comments do not say \(said)")
    }
    // The defaults are what the variants train with.
    let e = try Experiment(plan: plan)
    let block = try XCTUnwrap(e.variants.first { $0.name == "Masks: block 4" })
    XCTAssertEqual(block.stages[0].config.dataset.mask, .block(authorsBlockSize))
    XCTAssertEqual(try XCTUnwrap(e.variants.first { $0.name == "Rate: 0.5" }).stages[0].config.dataset.maskRatio, 0.5)
  }

  /// REMOVE of a component that has an "off" value is that value: no weight averaging samples the
  /// raw weights (EMA decay 0), no warm-up is 0 warm-up steps, no clipping is clip_grad null.
  func testRemovingAComponentWithAnOffValueIsThatValue() throws {
    let text = plan(ablation("No EMA", "weight averaging", "REMOVE"), ablation("No warm-up", "learning-rate warm-up", "REMOVE"),
                    ablation("No clipping", "gradient clipping", "REMOVE"))
    let imported = try importPlan(text, name: "off")
    let plan = try StudyPlan(yaml: imported.yaml, name: "off")
    XCTAssertEqual(plan.ablations.map(\.part.canonicalName), ["ema_decay", "warmup_steps", "clip_grad"])
    XCTAssertEqual(plan.ablations.map(\.action), [.replace, .replace, .replace])
    XCTAssertEqual(plan.ablations.map { $0.spelledReplacements }, [["0"], ["0"], ["null"]])
    XCTAssertTrue(imported.explanation.joined().contains("samples come from the raw (not averaged) weights"), "\(imported.explanation)")
    let e = try Experiment(plan: plan)
    XCTAssertEqual(try XCTUnwrap(e.variants.first { $0.studies == ["No EMA"] }).stages.map(\.config.emaDecay), [0, 0])
    XCTAssertEqual(try XCTUnwrap(e.variants.first { $0.studies == ["No clipping"] }).stages.map(\.config.clipGrad), [nil, nil])
    // A part with no "off" value is not removed by guessing one.
    let refused = try importPlan(self.plan(ablation("No LR", "learning rate", "REMOVE")), name: "x").ablations[0]
    XCTAssertEqual(refused.lineToEdit, "action")
    XCTAssertTrue(refused.problem!.contains("cannot be removed"), refused.problem!)
  }

  /// Ordinal and role words name stages: the stage parts, and what a quantity of a stage is.
  func testOrdinalAndRoleWordsNameStages() throws {
    XCTAssertEqual(try PlanPart.recognize("the first phase", action: .remove).part, .pretraining)
    XCTAssertEqual(try PlanPart.recognize("the stage that follows", action: .remove).part, .finetuning)
    XCTAssertEqual(try PlanPart.recognize("in the second stage, the amount of training data", replacements: ["10%"]).part, .finetuneFraction)
    XCTAssertEqual(try PlanPart.recognize("during the first phase, the fraction of patches that are hidden", replacements: ["0.5"]).part,
                   .maskRate)
    XCTAssertEqual(try PlanPart.recognize("data used in the first stage", replacements: ["CelebA"]).part, .pretrainDataset)
    XCTAssertEqual(try PlanPart.recognize("share of the target data used downstream", replacements: ["10%"]).part, .finetuneFraction)
    // A part of one stage worded for the other is refused, not moved.
    XCTAssertThrowsError(try PlanPart.recognize("mask rate of the fine-tuning stage", replacements: ["0.5"]))
    // A setting of every stage worded for one says that it changes every stage.
    let imported = try importPlan(plan(ablation("LR", "learning rate in the second stage", "REPLACE", ["1e-4"])), name: "lr")
    XCTAssertTrue(imported.explanation.joined().contains("changes every stage"), "\(imported.explanation)")
  }

  /// A quantity per unit is the setting that is that quantity.
  func testAQuantityPerUnitIsItsSetting() throws {
    XCTAssertEqual(try PlanPart.recognize("images per step", replacements: ["64"]).part, .config("batch_size"))
    XCTAssertEqual(try PlanPart.recognize("denoising steps per sample", replacements: ["50"]).part, .sampler)
    XCTAssertEqual(try PlanPart.recognize("patches per side of a block", replacements: ["4"]).part, .blockSize)
    XCTAssertEqual(try PlanPart.recognize("patches per side of the visible window", replacements: ["5"]).part, .cropSize)
    XCTAssertEqual(try PlanPart.recognize("pixels per side of each patch", replacements: ["2"]).part, .config("network.patch_size"))
  }

  /// One unreadable ablation in a plan of three: the other two are written and run; the third is a
  /// commented block naming the candidates and the line to edit; the import reports it.
  func testAnUnreadableAblationLeavesTheOthersWritten() throws {
    let text = plan(ablation("Rates", "masking rate", "REPLACE", ["10%", "90%"]),
                    ablation("Context", "sequence length of the noise schedule", "REPLACE", ["64", "256"]),
                    ablation("Position", "position embedding", "REMOVE"))
    let imported = try importPlan(text, name: "three")
    XCTAssertEqual(imported.ablations.map(\.isImported), [true, false, true])
    let plan = try StudyPlan(yaml: imported.yaml, name: "three")
    XCTAssertEqual(plan.ablations.map(\.name), ["Rates", "Position"])
    XCTAssertEqual(try Experiment(plan: plan).studies.map(\.name), ["Rates", "Position"])
    let unreadable = imported.unreadable[0]
    XCTAssertEqual(unreadable.lineToEdit, "part")
    XCTAssertEqual(unreadable.candidates, ["noise schedule"])
    XCTAssertTrue(imported.yaml.contains("# NOT IMPORTED: ablation Context:"), imported.yaml)
    XCTAssertTrue(imported.yaml.contains("# To run it, edit its part: line to one of: noise schedule"), imported.yaml)
    XCTAssertTrue(imported.yaml.contains("#   part: sequence length of the noise schedule"), imported.yaml)
    XCTAssertTrue(imported.failure!.contains("1 of 3 ablations not imported: ablation Context"), imported.failure!)
    XCTAssertThrowsError(try explainedImport(text, name: "three"))
    // Uncommenting the block with the edited part gives a plan of three.
    let block = try XCTUnwrap(imported.yaml.range(of: "# To run it"))
    let edited = String(imported.yaml[..<block.lowerBound]) + imported.yaml[block.lowerBound...]
      .replacingOccurrences(of: "#   part: sequence length of the noise schedule", with: "#   part: noise schedule")
      .replacingOccurrences(of: "#   replacements: [64, 256]", with: "#   replacements: [linear, cosine]")
      .split(separator: "\n").dropFirst().map { $0.dropFirst(2) + "\n" }.joined()
    XCTAssertEqual(try StudyPlan(yaml: edited, name: "three").ablations.map(\.name), ["Rates", "Position", "Context"], edited)
  }

  /// The seed plans import to what they imported before the importer was rewritten (the plan
  /// itself; the comments that explain the reading changed with the reading's evidence).
  func testTheSeedsImportAsBefore() throws {
    let fixtures = PlanTests.root.appendingPathComponent("Tests/Fixtures/imports")
    for url in SeedImportTests.seeds where url.deletingLastPathComponent().lastPathComponent == "seeds" {
      let name = url.deletingPathExtension().lastPathComponent
      let expected = try String(contentsOf: fixtures.appendingPathComponent("\(name).yaml"), encoding: .utf8)
      let yaml = try explainedImport(try String(contentsOf: url, encoding: .utf8), name: name).yaml
      let body = yaml.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
      XCTAssertEqual(body, expected, name)
    }
  }

  /// Markdown and HTML variants of the seed format read alike.
  func testPlanFormatsReadAlike() throws {
    let markdown = plan(ablation("A", "masking rate", "REPLACE", ["0.1", "0.5"]))
    let variants = [
      "<h2>Ablation Plan</h2><h3>A</h3><ul><li><strong>Ablated Part</strong>: masking rate</li><li><strong>Action</strong>: REPLACE</li>"
        + "<li><strong>Replacement</strong>:<ul><li>0.1</li><li>0.5</li></ul></li><li><strong>Metrics</strong>: FID</li></ul>",
      "## Ablation Plan\n## A\n* **Ablated part:** masking rate\n* **Action:** replace\n* **Replacements:** 0.1, 0.5\n* **Metrics:** FID\n",
      "## Ablation Plan\n### A\n1. Ablated Part: masking rate\n2. Action: REPLACE\n3. Replacements: `0.1`; `0.5`\n4. Metrics: FID\n",
      "## Ablation Plan\n**A**\n+ __Ablated Part__: masking rate\n+ __Replacement__:\n    + 0.1\n    + 0.5\n\n## Notes\nNone.\n",
    ]
    let expected = try parseMarkdownPlan(markdown).map { [$0.name, $0.part, $0.replacements.joined(separator: "|")] }
    for text in variants {
      XCTAssertEqual(try parseMarkdownPlan(text).map { [$0.name, $0.part, $0.replacements.joined(separator: "|")] }, expected, text)
    }
  }
}
