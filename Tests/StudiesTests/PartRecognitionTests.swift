import Foundation
@testable import Studies
import XCTest

/// Plans worded as researchers write them: a corpus of wordings the project wrote itself, each with
/// the part and the values it must give, near-misses that must not be taken for a part, and the
/// ambiguous and unknown ones with their errors.
final class PartRecognitionTests: XCTestCase {
  struct Wording {
    var part: String
    var action = "REPLACE"
    var replacements: [String] = []
    /// The part's name in the imported plan, and the replacements it writes.
    var expected: String
    var values: [String]? = nil
  }

  static let corpus: [Wording] = [
    // Position embedding.
    Wording(part: "Addition of positional information H to the input before masking", action: "REMOVE", expected: "position embedding"),
    Wording(part: "the position embedding", action: "REMOVE", expected: "position embedding"),
    Wording(part: "Pos. embedding (H) of visible patches", action: "REMOVE", expected: "position embedding"),
    Wording(part: "PE added to tokens", action: "REMOVE", expected: "position embedding"),
    // Training schedule.
    Wording(part: "Two-stage training framework (masked pre-training + denoising fine-tuning)",
            replacements: ["Single-stage training using the MDSM objective for the whole budget"], expected: "schedule",
            values: ["mdsm_only", "dsm_only"]),
    Wording(part: "training schedule", replacements: ["one stage of DSM from scratch"], expected: "schedule", values: ["dsm_only"]),
    Wording(part: "two stage vs single stage", replacements: ["mdsm only", "dsm only"], expected: "schedule", values: ["mdsm_only", "dsm_only"]),
    // Removing a stage.
    Wording(part: "masked pre-training stage", action: "REMOVE", expected: "masked pre-training"),
    Wording(part: "the MDSM pretraining phase", action: "REMOVE", expected: "masked pre-training"),
    Wording(part: "denoising fine-tuning stage", action: "REMOVE", expected: "fine-tuning"),
    Wording(part: "Finetuning", action: "REMOVE", expected: "fine-tuning"),
    // Mask rate.
    Wording(part: "masking rate", replacements: ["10%", "50%", "90%"], expected: "mask rate", values: ["0.1", "0.5", "0.9"]),
    Wording(part: "Mask ratio of the pre-training stage", replacements: ["0.25", "0.75"], expected: "mask rate", values: ["0.25", "0.75"]),
    Wording(part: "percentage of masked patches", replacements: ["ten percent", "ninety percent"], expected: "mask rate",
            values: ["0.1", "0.9"]),
    Wording(part: "how many patches are masked", replacements: ["half"], expected: "mask rate", values: ["0.5"]),
    // Mask type, alone and crossed with the rate.
    Wording(part: "masking strategy of the pre-training stage", replacements: ["patch", "block 4", "crop"], expected: "mask type",
            values: ["patch", "block 4", "crop"]),
    Wording(part: "Mask type", replacements: ["block 2 at 50%", "block 8 at 90%"], expected: "mask type",
            values: ["block 2 at 50%", "block 8 at 90%"]),
    Wording(part: "type of masking used during pretraining", replacements: ["patch-wise", "block-wise 4", "cropping"],
            expected: "mask type"),
    Wording(part: "masking scheme", replacements: ["patch", "crop 4"], expected: "mask type"),
    // Block and crop sizes.
    Wording(part: "block size of block-wise masking", replacements: ["2", "4", "8"], expected: "block size"),
    Wording(part: "crop window size", replacements: ["3", "5"], expected: "crop size"),
    // Pre-training length.
    Wording(part: "length of the masked pre-training stage", replacements: ["25%", "50%", "75%"], expected: "pre-training length",
            values: ["25%", "50%", "75%"]),
    Wording(part: "share of the budget spent on masked pre-training", replacements: ["0.25", "0.5"], expected: "pre-training length"),
    Wording(part: "Pre-training duration", replacements: ["a quarter", "half"], expected: "pre-training length", values: ["25%", "50%"]),
    Wording(part: "how long to pre-train", replacements: ["20 s", "40 s"], expected: "pre-training length"),
    // Prediction target.
    Wording(part: "prediction target", replacements: ["eps", "x0", "v"], expected: "objective",
            values: ["pred_noise", "pred_x0", "pred_v"]),
    Wording(part: "the network's parameterization", replacements: ["epsilon", "x_0", "velocity"], expected: "objective",
            values: ["pred_noise", "pred_x0", "pred_v"]),
    Wording(part: "what the model predicts", replacements: ["noise", "v-prediction"], expected: "objective", values: ["pred_noise", "pred_v"]),
    // Data.
    Wording(part: "pre-training dataset", replacements: ["CelebA", "FFHQ"], expected: "pre-training dataset", values: ["CelebA", "FFHQ"]),
    Wording(part: "Source data for masked pretraining", replacements: ["FFHQ"], expected: "pre-training dataset"),
    Wording(part: "limited data for fine-tuning", replacements: ["10%", "1%"], expected: "fine-tuning data fraction",
            values: ["0.1", "0.01"]),
    Wording(part: "amount of fine-tuning data", replacements: ["0.1"], expected: "fine-tuning data fraction", values: ["0.1"]),
    // Noise schedule and sampler.
    Wording(part: "noise schedule", replacements: ["linear", "cosine"], expected: "noise schedule"),
    Wording(part: "beta schedule of the diffusion", replacements: ["cosine"], expected: "noise schedule"),
    Wording(part: "sampler used for evaluation", replacements: ["DDIM 50", "DDPM"], expected: "sampler"),
    Wording(part: "sampling method", replacements: ["ddim 25"], expected: "sampler"),
    // Knobs by name.
    Wording(part: "learning rate", replacements: ["1e-4", "4e-4"], expected: "lr"),
    Wording(part: "LR of both stages", replacements: ["1e-4"], expected: "lr"),
    Wording(part: "Batch size", replacements: ["32", "128"], expected: "batch_size"),
    Wording(part: "EMA decay rate", replacements: ["0.99", "0.9999"], expected: "ema_decay"),
    Wording(part: "learning-rate warm-up", replacements: ["0", "500"], expected: "warmup_steps"),
    Wording(part: "patch size of the ViT", replacements: ["2", "8"], expected: "network.patch_size"),
    Wording(part: "model depth", replacements: ["9", "17"], expected: "network.encoder_depth"),
    Wording(part: "width (embedding dimension)", replacements: ["32", "128"], expected: "network.encoder_embed_dim"),
    Wording(part: "number of attention heads", replacements: ["1", "4"], expected: "network.encoder_heads"),
    Wording(part: "network.mlp_ratio", replacements: ["2", "8"], expected: "network.mlp_ratio"),
  ]

  /// The corpus in one markdown plan, with the HTML around it that planners write.
  func markdown(_ items: [Wording], html: Bool) -> String {
    var text = html ? "<div class=\"box\">\n<h2>Ablation Plan</h2>\n\n" : "# Plan\n\n## Ablation Plan\n\n"
    for (i, w) in items.enumerated() {
      text += "### Ablation \(i)\n- **Ablated Part**: \(w.part)\n- **Action**: \(w.action)\n"
      if !w.replacements.isEmpty { text += "- **Replacement**:\n" + w.replacements.map { "  - \($0)\n" }.joined() }
      text += "- **Metrics**: FID, Training Time (GPU Days)\n\n"
    }
    return text + (html ? "</div>\n" : "")
  }

  func testEveryWordingImportsToItsPartAndValues() throws {
    XCTAssertGreaterThanOrEqual(Self.corpus.count, 40)
    for html in [false, true] {
      let yaml = try explainedImport(markdown(Self.corpus, html: html), name: "corpus").yaml
      let plan = try StudyPlan(yaml: yaml, name: "corpus")
      XCTAssertEqual(plan.ablations.count, Self.corpus.count)
      for (w, a) in zip(Self.corpus, plan.ablations) {
        XCTAssertEqual(a.part.canonicalName, w.expected, "\"\(w.part)\" was read as \(a.part)")
        if let values = w.values { XCTAssertEqual(a.spelledReplacements, values, "\"\(w.part)\"") }
        XCTAssertEqual(a.metrics, ["FID", "training time"])
      }
      // Every variant expands (the quick preset's stages), so `study run --dry-run` accepts the plan.
      let experiment = try Experiment(plan: plan)
      XCTAssertGreaterThan(experiment.variants.count, Self.corpus.count)
    }
  }

  /// Near-misses: wordings that share words with a part and must not be taken for it.
  func testNearMissesAreNotTakenForThePart() throws {
    let cases: [(String, [String], String, String)] = [  // (wording, replacements, must not be, is)
      ("noise schedule of the pre-training stage", ["cosine"], "schedule", "noise schedule"),
      ("learning rate of the masked stage", ["1e-4"], "mask rate", "lr"),
      ("mask type of the pre-training stage", ["patch"], "pre-training length", "mask type"),
      ("length of pre-training", ["25%"], "mask rate", "pre-training length"),
      ("pre-training dataset", ["CelebA"], "fine-tuning data fraction", "pre-training dataset"),
      ("fine-tuning data fraction", ["10%"], "pre-training dataset", "fine-tuning data fraction"),
      ("patch size of the model", ["2"], "mask type", "network.patch_size"),
      ("position embedding of the masked pre-training stage", [], "masked pre-training", "position embedding"),
      ("single-stage training objective", ["MDSM only"], "objective", "schedule"),
      ("MLP ratio", ["2"], "mask rate", "network.mlp_ratio"),
      ("number of training steps", ["1000"], "pre-training length", "train_steps"),
      ("sampling steps of the sampler", ["ddim 25"], "mask rate", "sampler"),
      ("block size", ["4"], "mask type", "block size"),
      ("EMA decay", ["0.99"], "noise schedule", "ema_decay"),
      ("position of the crop window", ["3"], "position embedding", "crop size"),
      ("crop size", ["4"], "block size", "crop size"),
      ("noise level of the pre-training images", ["linear"], "pre-training dataset", "noise schedule"),
      ("sampling of timesteps in the sampler", ["ddpm"], "noise schedule", "sampler"),
      ("fine-tuning data fraction", ["1%"], "fine-tuning", "fine-tuning data fraction"),
      ("prediction target of the fine-tuning stage", ["eps"], "fine-tuning", "objective"),
      ("batch size of pre-training", ["64"], "pre-training length", "batch_size"),
      ("warm-up steps", ["100"], "train_steps", "warmup_steps"),
      ("masked pre-training learning rate", ["1e-4"], "masked pre-training", "lr"),
    ]
    for (wording, replacements, not, expected) in cases {
      let r = try PlanPart.recognize(wording, replacements: replacements, action: replacements.isEmpty ? .remove : .replace)
      XCTAssertNotEqual(r.part.canonicalName, not, wording)
      XCTAssertEqual(r.part.canonicalName, expected, "\(wording): \(r.ranking.map { "\($0.part.label) \($0.score)" })")
    }
  }

  func testAmbiguousAndUnknownPartsNameTheCandidates() {
    // Two parts named at once, with a value that fits both.
    XCTAssertThrowsError(try PlanPart.recognize("block size and crop size", replacements: ["4"])) {
      XCTAssertTrue("\($0)".contains("could be the"), "\($0)")
      XCTAssertTrue("\($0)".contains("\"block size\"") && "\($0)".contains("\"crop size\""), "\($0)")
    }
    XCTAssertThrowsError(try PlanPart.recognize("the colour of the logo", replacements: ["blue"])) {
      XCTAssertTrue("\($0)".contains("unknown ablated part") && "\($0)".contains("mask rate"), "\($0)")
    }
    XCTAssertThrowsError(try PlanPart.recognize("dataset.MASK_RATO", replacements: ["0.5"])) {
      XCTAssertTrue("\($0)".contains("did you mean dataset.MASK_RATIO"), "\($0)")
    }
  }

  /// A plan that would silently do nothing, or promise a measurement the report does not make, is refused.
  func testEmptyAblationsAndUnknownMetricsAreErrors() {
    XCTAssertThrowsError(try StudyPlan(yaml: "ablations: []")) { XCTAssertTrue("\($0)".contains("empty list"), "\($0)") }
    XCTAssertThrowsError(try StudyPlan(yaml: "ablations:\n  - {part: mask rate, replacements: [0.5], metrics: [FID, IS]}")) {
      XCTAssertTrue("\($0)".contains("unknown metric IS") && "\($0)".contains("FID, KID, training time"), "\($0)")
    }
    XCTAssertNoThrow(try StudyPlan(yaml: "ablations:\n  - {part: mask rate, replacements: [0.5], metrics: [fid, KID, Training Time (GPU Days)]}"))
  }

  /// `--explain` lines name the part chosen, the runner-up and the variants.
  func testTheImportExplainsItself() throws {
    let text = markdown([Wording(part: "masking strategy of the pre-training stage", replacements: ["patch", "block 4"], expected: "")], html: false)
    let (yaml, lines) = try explainedImport(text, name: "x")
    XCTAssertTrue(lines[0].contains("read as mask type") && lines[0].contains("concept \"masking strategy\" (what it is about) +6"), lines[0])
    XCTAssertTrue(lines[1].contains("runner-up") || lines[1].contains("no other part fits"), lines[1])
    XCTAssertTrue(lines[2].contains("variants: patch; block 4"), lines[2])
    XCTAssertTrue(yaml.contains("# Ablation 0: part \"masking strategy of the pre-training stage\" read as mask type"), yaml)
  }

  /// The new parts change the stages they name.
  func testNewPartsChangeTheirStages() throws {
    let yaml = """
      ablations:
        - {name: L, part: pre-training length, action: REPLACE, replacements: ["25%", "0.75"]}
        - {name: O, part: objective, action: REPLACE, replacements: [pred_noise, pred_v]}
        - {name: P, part: masked pre-training, action: REMOVE}
        - {name: F, part: fine-tuning, action: REMOVE}
        - {name: G, part: mask type, action: REPLACE, replacements: ["block 2 at 50%"]}
      """
    let e = try Experiment(plan: try StudyPlan(yaml: yaml, name: "new"))
    func variant(_ name: String) throws -> Variant { try XCTUnwrap(e.variants.first { $0.name == name }, name) }
    let quarter = try variant("L: pre-training 25% of the budget")
    XCTAssertEqual(quarter.stages.map(\.budgetSeconds), [22.5, 67.5])  // of the quick preset's 45 + 45 s
    XCTAssertEqual(try variant("L: pre-training 75% of the budget").stages.map(\.budgetSeconds), [67.5, 22.5])
    XCTAssertEqual(try variant("O: pred_v").stages.map(\.config.objective), [.v, .v])
    XCTAssertEqual(try variant("P: DSM only").stages.map(\.isMasked), [false])
    XCTAssertEqual(try variant("F: MDSM only").stages.map(\.isMasked), [true])
    let grid = try variant("G: block 2 at 50%").stages[0].config.dataset
    XCTAssertEqual(grid.mask, .block(2))
    XCTAssertEqual(grid.maskRatio, 0.5)
  }
}
