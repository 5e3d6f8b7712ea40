import Engine
import Foundation
import MaskDM
@testable import Training
import XCTest

/// Configuration input a careless or hostile user gives: nesting, size, duplicate keys, empty files,
/// sizes that cannot be allocated, values of the wrong type.
final class UntrustedConfigTests: XCTestCase {
  /// A file nested 100 000 levels deep overflowed the composer's stack (SIGSEGV); it is refused
  /// from the event stream before anything recursive runs.
  func testDeepNestingIsRefusedWithoutRecursion() {
    let depth = 100_000
    for text in [String(repeating: "[", count: depth) + String(repeating: "]", count: depth),
                 String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth),
                 "dataset:\n  CLASSES: " + String(repeating: "[", count: depth)] {
      XCTAssertThrowsError(try TrainConfig(yaml: text, source: "deep.yaml")) {
        XCTAssertTrue("\($0)".contains("deep.yaml line 1") || "\($0)".contains("deep.yaml line 2"), "\($0)")
        XCTAssertTrue("\($0)".contains("nesting deeper than \(YAMLLimits.maximumDepth) levels"), "\($0)")
      }
    }
    // Just within the limit is read (and then judged as a configuration).
    let within = "a: " + String(repeating: "[", count: YAMLLimits.maximumDepth - 1) + String(repeating: "]", count: YAMLLimits.maximumDepth - 1)
    XCTAssertThrowsError(try TrainConfig(yaml: within)) { XCTAssertTrue("\($0)".contains("unknown key a"), "\($0)") }
  }

  /// Aliases repeat what they name: a few hundred bytes can stand for billions of values.
  func testAliasExpansionIsBounded() {
    var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in 1..<10 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
    XCTAssertThrowsError(try YAMLReader.compose(text, source: "laughs.yaml")) {
      XCTAssertTrue("\($0)".contains("more than \(YAMLLimits.maximumNodes) values"), "\($0)")
    }
    // An alias also carries its depth.
    let deepAnchor = "a: &d " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[*d]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    XCTAssertThrowsError(try YAMLReader.compose(deepAnchor, source: "alias.yaml")) {
      XCTAssertTrue("\($0)".contains("nesting deeper"), "\($0)")
    }
  }

  func testDocumentSizeIsBoundedBeforeParsing() throws {
    let big = "# " + String(repeating: "x", count: YAMLLimits.maximumBytes) + "\nlr: 1\n"
    XCTAssertThrowsError(try TrainConfig(yaml: big, source: "big.yaml")) {
      XCTAssertTrue("\($0)".contains("big.yaml is \(big.utf8.count) bytes"), "\($0)")
    }
    // A file is read no further than the limit (an endless one included).
    XCTAssertThrowsError(try YAMLReader.contents(ofFile: "/dev/zero")) { XCTAssertTrue("\($0)".contains("larger than"), "\($0)") }
  }

  /// YAML keeps the last of two equal keys; here that is an error naming the key and both lines.
  func testDuplicateKeysAreErrorsNamingKeyAndLines() {
    XCTAssertThrowsError(try TrainConfig(yaml: "lr: 1.0e-3\nbatch_size: 8\nlr: 2.0e-4\n", source: "dup.yaml")) {
      XCTAssertTrue("\($0)".contains("dup.yaml line 3: the key lr is written twice (lines 1 and 3)"), "\($0)")
    }
    XCTAssertThrowsError(try TrainConfig(yaml: "dataset:\n  MASK_RATIO: 0.5\n  NAME: synthetic\n  MASK_RATIO: 0.9\n", source: "dup.yaml")) {
      XCTAssertTrue("\($0)".contains("the key dataset.MASK_RATIO is written twice (lines 2 and 4)"), "\($0)")
    }
    XCTAssertThrowsError(try ConfigEdit(assignment: "dataset.CLASSES=[{a: 1, a: 2}]")) {
      XCTAssertTrue("\($0)".contains("written twice"), "\($0)")
    }
    XCTAssertThrowsError(try YAMLReader.compose("stages:\n  - name: a\n    name: b\n", source: "plan.yaml")) {
      XCTAssertTrue("\($0)".contains("plan.yaml line 3: the key stages[0].name is written twice (lines 2 and 3)"), "\($0)")
    }
  }

  /// The authors' files write `define:` twice (it only holds anchors, and this tool never reads it);
  /// keys the tool does not read may repeat, keys it reads may not.
  func testKeysTheToolDoesNotReadMayRepeat() throws {
    let authorsStyle = """
      define: &img_size 32
      define: &patch_size 4
      num_workers: 4
      num_workers: 8
      dataset:
        NAME: synthetic
        MEAN: [0.5, 0.5, 0.5]
        MEAN: [0.5, 0.5, 0.5]
        IMG_SIZE: *img_size
      network:
        img_size: *img_size
        patch_size: *patch_size
      """
    let c = try TrainConfig(yaml: authorsStyle)
    XCTAssertEqual(c.network.imageSize, 32)
    XCTAssertEqual(c.network.patchSize, 4)
  }

  func testAnEmptyConfigFileAsksForSettingsNotForCelebA() throws {
    for text in ["", "# only a comment\n", "{}"] {
      XCTAssertThrowsError(try TrainConfig(yaml: text, source: "empty.yaml", requireSettings: true)) {
        XCTAssertTrue("\($0)".contains("empty.yaml holds no settings"), "\($0)")
        XCTAssertTrue("\($0)".contains("configs/tiny.yaml"), "\($0)")
        XCTAssertFalse("\($0)".lowercased().contains("celeba"), "\($0)")
      }
    }
    XCTAssertEqual(try TrainConfig(yaml: ""), TrainConfig(), "the library still reads no text as the defaults")
  }

  /// A value of the wrong type is shown as written, on one line (not as a YAML node dump).
  func testTypeErrorsShowTheValueOnOneLine() {
    for (yaml, expected) in [("dataset:\n  CLASSES:\n    a: [1, {b: 2}]\n", "dataset.CLASSES must be a list of integers or null (got {a: [1, {b: 2}]})"),
                             ("dataset:\n  CLASSES:\n    - [1]\n    - 2\n", "dataset.CLASSES[0] must be an integer (got [1])"),
                             ("lr:\n  - 1\n  - 2\n", "lr must be a number (got [1, 2])")] {
      XCTAssertThrowsError(try TrainConfig(yaml: yaml)) {
        XCTAssertEqual("\($0)", expected)
        XCTAssertFalse("\($0)".contains("\n"))
      }
    }
  }

  /// 10^9 overflows MLX's 32-bit dimensions ("negative dimensions"): refused by validate, naming the key.
  func testDimensionsBeyondMLXAreRefusedNamingTheKey() {
    for (set, key) in [("network.encoder_embed_dim=1000000000", "network.encoder_embed_dim"),
                       ("network.mlp_ratio=1.0e300", "network.mlp_ratio"), ("network.img_size=4000000", "network.img_size"),
                       ("network.num_classes=3000000000", "network.num_classes")] {
      var edits = [try! ConfigEdit(assignment: set)]
      if key == "network.img_size" { edits.append(try! ConfigEdit(assignment: "network.patch_size=1")) }
      XCTAssertThrowsError(try TrainConfig().applying(edits, source: "--set").validate(), set) {
        XCTAssertTrue("\($0)".hasPrefix("\(key) is too large"), "\(set): \($0)")
        XCTAssertTrue("\($0)".contains("2147483647"), "\($0)")
      }
    }
  }

  /// 100000 validated, then asked MLX for terabytes (SIGSEGV): the memory it needs is checked first.
  func testMemoryIsCheckedAgainstAStatedLimitBeforeAllocation() throws {
    var c = TrainConfig()
    c.network.embedDim = 100_000
    try c.validate()
    XCTAssertThrowsError(try c.checkMemory(limit: 1e12)) {
      XCTAssertTrue("\($0)".contains("needs at least"), "\($0)")
      XCTAssertTrue("\($0)".contains("more than the 1 TB"), "\($0)")
      XCTAssertTrue("\($0)".contains("network.encoder_embed_dim"), "\($0)")
    }
    XCTAssertThrowsError(try Trainer(config: c, runDirectory: URL(fileURLWithPath: "/nonexistent/run"))) {
      XCTAssertTrue("\($0)".contains("physical memory"), "\($0)")
    }
    // The paper's CelebA-64 pre-training (90% masked, batch 256) passes with 8 GB; unmasked it needs more.
    var paper = TrainConfig()
    paper.dataset.maskRatio = 0.9
    XCTAssertNoThrow(try paper.checkMemory(limit: 8e9))
    paper.dataset.maskRatio = 0
    XCTAssertThrowsError(try paper.checkMemory(limit: 8e9))
    XCTAssertGreaterThan(paper.memoryEstimate.totalBytes, 5 * 4 * paper.memoryEstimate.parameters)
  }

  /// The estimate is a lower bound: a real run of the tiny model peaks above it.
  func testTheMemoryEstimateIsBelowWhatTrainingUses() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var c = try TrainConfig(contentsOf: root.appendingPathComponent("configs/tiny.yaml"))
    // Unmasked at batch 64, so that the activations, the estimated part, dominate.
    (c.trainSteps, c.numSamples, c.saveAndSampleEvery, c.dataset.count, c.batchSize, c.dataset.maskRatio) = (2, 0, 2, 128, 64, 0)
    XCTAssertGreaterThan(c.memoryEstimate.activationBytes, 2 * c.memoryEstimate.parameterStateBytes)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("memory-\(UUID().uuidString.prefix(8))")
    defer { try? FileManager.default.removeItem(at: dir) }
    let summary = try Trainer(config: c, runDirectory: dir).train()
    XCTAssertGreaterThan(Double(summary.peakMemoryBytes), c.memoryEstimate.totalBytes)
    print("tiny: estimate \(Int(c.memoryEstimate.totalBytes)) bytes, peak \(summary.peakMemoryBytes)")
  }

  /// The estimate's parameter count is the model's own, for every layout option.
  func testParameterEstimateIsTheModelsCount() throws {
    var variants: [ModelConfig] = [.tiny]
    var c = ModelConfig.tiny
    (c.qkvBias, c.mlpTimeEmbed, c.numClasses, c.depth, c.mlpRatio) = (true, true, 10, 4, 2.5)
    variants.append(c)
    c.usePositionEmbedding = false
    c.channels = 1
    variants.append(c)
    for v in variants {
      let counted = try Engine.run { try MaskedUViT(v, key: PRNGKey(seed: 0)).parameters().values.reduce(0) { $0 + $1.size } }
      XCTAssertEqual(v.parameterEstimate, Double(counted), "\(v)")
    }
  }

  /// `--init-from x.pt` names the conversion rather than failing to read safetensors.
  func testAPyTorchCheckpointToStartFromNamesConvert() {
    var c = TrainConfig()
    c.pretrainedModelCkpt = "ckpts/checkpoint-399.pth"
    XCTAssertThrowsError(try c.validate()) {
      XCTAssertTrue("\($0)".contains("maskdm convert ckpts/checkpoint-399.pth -o weights.safetensors"), "\($0)")
    }
  }
}
