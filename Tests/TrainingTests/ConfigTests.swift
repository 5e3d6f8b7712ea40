import Engine
import Foundation
import MaskDM
import Training
import XCTest
import Yams

/// Configuration parsing, without any array math.
final class ConfigTests: XCTestCase {
  /// The authors' CelebA-64 90% pre-training config, verbatim (configs/ablation/pretrain/patch/celeba_90p.yml).
  let authorsFile = """
    # ckpt: "./ckpts/checkpoint-399.pth"
    pretrained_model_ckpt: ""
    batch_size: 256
    lr: 2.0e-4
    adam_betas: [0.99, 0.99]
    weight_decay: 0.03
    results_folder: ""

    ema_decay: 0.999
    ema_update_every: 1
    clip_grad: null
    # dataset

    beta_schedule: "linear"
    num_workers: 5
    shift: false
    loss_weight: "p2" # [p2, min]
    p2_loss_weight_gamma: 0 # if set to 0, then `loss_weight` is disabled and no loss weight will be applied

    normalization: true
    clip_max: 1
    clip_min: -1

    dataset:
      TASK: uncond
      NAME: celeba
      PATH: ""

      MASK_RATIO: 0.9
      MASK_TYPE: "patch"
      MASK_CROP_SIZE: -1 # equals 225 patches
      MASK_BLOCK_SIZE: -1

      # augmentation
      SHORT_SIDE_SIZE: 64
      IMG_SIZE: 64
      MEAN: [0.5, 0.5, 0.5]
      STD: [0.5, 0.5, 0.5]
      hflip_prob: 0.0

    network:
      name : 'maskdm'
      img_size : 64
      patch_size : 4
      in_chans : 3

      encoder_embed_dim : 512
      encoder_depth : 13
      encoder_heads : 8

      decoder_embed_dim: 384
      decoder_depth: 0  # if zero, then no decoder used, only use linear layer
      decoder_heads: 6

      mlp_ratio : 4
      qkv_bias : False

      num_classes: -1

      use_final_conv: False
      mlp_time_embed : False
      use_checkpoint : False
    """

  func testAuthorsFileLoadsAsItIs() throws {
    let c = try TrainConfig(yaml: authorsFile)
    XCTAssertEqual(c.batchSize, 256)
    XCTAssertEqual(c.lr, 2e-4)
    XCTAssertEqual(c.adamBetas, [0.99, 0.99])
    XCTAssertNil(c.clipGrad)
    XCTAssertEqual(c.betaSchedule, .linear)
    XCTAssertEqual(c.dataset.maskRatio, 0.9)
    XCTAssertEqual(c.dataset.mask, .patch)
    XCTAssertEqual(c.network.embedDim, 512)
    XCTAssertEqual(c.network.depth, 13)
    XCTAssertEqual(c.network.numHeads, 8)
    XCTAssertFalse(c.network.qkvBias)
    XCTAssertTrue(c.isMasked)
  }

  func testDefaultsAreThePapersAblationSettings() throws {
    let c = try TrainConfig(yaml: "")
    XCTAssertEqual(c.batchSize, 256)
    XCTAssertEqual(c.lr, 2e-4)
    XCTAssertEqual(c.weightDecay, 0.03)
    XCTAssertEqual(c.emaDecay, 0.999)
    XCTAssertEqual(c.warmupSteps, 0)
    XCTAssertNil(c.clipGrad)
    XCTAssertEqual(c.network.embedDim, 512)
    XCTAssertEqual(c.trainSteps, 200_000)
  }

  func testUnknownKeyNamesTheClosestKnownOne() {
    XCTAssertThrowsError(try TrainConfig(yaml: "batchsize: 3")) {
      XCTAssertTrue("\($0)".contains("unknown key batchsize; did you mean batch_size?"), "\($0)")
    }
    XCTAssertThrowsError(try TrainConfig(yaml: "dataset:\n  MASK_RATE: 0.5")) {
      XCTAssertTrue("\($0)".contains("unknown key dataset.MASK_RATE; did you mean dataset.MASK_RATIO?"), "\($0)")
    }
    XCTAssertThrowsError(try TrainConfig(yaml: "network:\n  encoder_dept: 3")) {
      XCTAssertTrue("\($0)".contains("network.encoder_depth"), "\($0)")
    }
  }

  func testBadValuesAreExplained() {
    XCTAssertThrowsError(try TrainConfig(yaml: "lr: fast")) { XCTAssertTrue("\($0)".contains("lr must be a number"), "\($0)") }
    XCTAssertThrowsError(try TrainConfig(yaml: "dataset:\n  MASK_RATIO: 1.0")) { XCTAssertTrue("\($0)".contains("MASK_RATIO"), "\($0)") }
    XCTAssertThrowsError(try TrainConfig(yaml: "beta_schedule: quadratic")) { XCTAssertTrue("\($0)".contains("beta_schedule"), "\($0)") }
    XCTAssertThrowsError(try TrainConfig(yaml: "p2_loss_weight_gamma: 1")) { XCTAssertTrue("\($0)".contains("P2"), "\($0)") }
    XCTAssertThrowsError(try TrainConfig(yaml: "network:\n  patch_size: 5")) { XCTAssertTrue("\($0)".contains("patch_size"), "\($0)") }
    XCTAssertThrowsError(try TrainConfig(yaml: "batch_size: [1")) { XCTAssertTrue("\($0)".contains("not valid YAML"), "\($0)") }
    // Values that crashed the trainer (division by zero) are configuration errors naming the key.
    for (yaml, key) in [("log_every: 0", "log_every"), ("network:\n  patch_size: 0", "patch_size"),
                        ("network:\n  encoder_heads: 0", "encoder_heads"), ("dataset:\n  hflip_prob: 1.5", "hflip_prob")] {
      XCTAssertThrowsError(try TrainConfig(yaml: yaml)) { XCTAssertTrue("\($0)".contains(key), "\(yaml): \($0)") }
    }
    XCTAssertThrowsError(try TrainConfig(yaml: "loss_type: l3")) { XCTAssertTrue("\($0)".contains("loss_type must be one of l2, l1"), "\($0)") }
  }

  /// Every numeric setting has its range (these were once accepted; clip_grad -1 changed the loss).
  func testNumericSettingsHaveTheirRanges() throws {
    for (yaml, key) in [("ema_decay: 2", "ema_decay"), ("weight_decay: -1", "weight_decay"), ("clip_grad: -1", "clip_grad"),
                        ("warmup_steps: -1", "warmup_steps"), ("sampling_timesteps: 0", "sampling_timesteps"),
                        ("sampling_timesteps: 1001", "sampling_timesteps"), ("ema_update_every: 0", "ema_update_every"),
                        ("ddim_sampling_eta: 2", "ddim_sampling_eta"), ("timesteps: 0", "timesteps"),
                        ("train_seconds: -5", "train_seconds"), ("num_samples: -1", "num_samples"), ("network:\n  mlp_ratio: 0", "mlp_ratio")] {
      XCTAssertThrowsError(try TrainConfig(yaml: yaml), yaml) { XCTAssertTrue("\($0)".contains(key), "\(yaml): \($0)") }
    }
    XCTAssertEqual(try TrainConfig(yaml: "sampling_timesteps: 1000").sampler(), .ddpm, "T steps is DDPM, as the authors'")
    XCTAssertEqual(try TrainConfig(yaml: "sampling_timesteps: 50\nddim_sampling_eta: 0").sampler(), .ddim(steps: 50, eta: 0))
  }

  /// Every strategy is parsed once from the authors' spelling; another value names the key, the value
  /// and every choice.
  func testEveryStrategyIsAChoiceThatNamesItsOptions() throws {
    let cases: [(String, String)] = [
      ("beta_schedule: quadratic", "beta_schedule must be one of linear, cosine (got quadratic)"),
      ("objective: pred_eps", "objective must be one of pred_noise, pred_x0, pred_v (got pred_eps)"),
      ("loss_type: huber", "loss_type must be one of l2, l1 (got huber)"),
      ("precision: fp16", "precision must be one of fp32, bf16 (got fp16)"),
      ("device: tpu", "device must be one of cpu, gpu, auto (got tpu)"),
      ("dataset:\n  MASK_TYPE: random", "dataset.MASK_TYPE must be one of patch, block, crop (got random)"),
    ]
    for (yaml, message) in cases {
      XCTAssertThrowsError(try TrainConfig(yaml: yaml), yaml) { XCTAssertTrue("\($0)".contains(message), "\(yaml): \($0)") }
    }
    let c = try TrainConfig(yaml: "objective: pred_v\nbeta_schedule: cosine\nprecision: bf16\ndevice: cpu\ndataset:\n  MASK_TYPE: crop")
    XCTAssertEqual(c.objective, .v)
    XCTAssertEqual(c.betaSchedule, .cosine)
    XCTAssertEqual(c.precision, .bf16)
    XCTAssertEqual(c.device, .cpu)
    XCTAssertEqual(c.dataset.mask, .crop(nil))
    // What is read is written back the authors' way (a run directory's config.yaml reloads to itself).
    XCTAssertEqual(try TrainConfig(yaml: c.yaml()), c)
    XCTAssertTrue(c.yaml().contains("objective: \"pred_v\""), c.yaml())
  }

  /// Keys of the authors' files that this tool does not act on are handled on purpose.
  func testAuthorsKeysTheToolDoesNotActOn() throws {
    // warmup_schedule: in three of their configs, never read by their code.
    let c = try TrainConfig(yaml: "warmup_steps: 5000\nwarmup_schedule: \"lambda\"\nnetwork:\n  name: 'maskdm'\n  img_size: 32")
    XCTAssertEqual(c.warmupSteps, 5000)
    XCTAssertThrowsError(try TrainConfig(yaml: "network:\n  name: mask_dwt")) {
      XCTAssertTrue("\($0)".contains("mask_dwt") && "\($0)".contains("does not build"), "\($0)")
    }
    XCTAssertThrowsError(try TrainConfig(yaml: "network:\n  name: unet")) { XCTAssertTrue("\($0)".contains("maskdm"), "\($0)") }
  }

  /// The image size is one value: either block sets it, and two different values are an error.
  func testImageSizeLivesInOnePlace() throws {
    XCTAssertEqual(try TrainConfig(yaml: "dataset:\n  IMG_SIZE: 32").network.imageSize, 32)
    XCTAssertEqual(try TrainConfig(yaml: "network:\n  img_size: 32").network.imageSize, 32)
    XCTAssertEqual(try TrainConfig(yaml: "dataset:\n  IMG_SIZE: 32\nnetwork:\n  img_size: 32").network.imageSize, 32)
    XCTAssertThrowsError(try TrainConfig(yaml: "dataset:\n  IMG_SIZE: 32\nnetwork:\n  img_size: 64")) {
      XCTAssertTrue("\($0)".contains("network.img_size (64) must equal dataset.IMG_SIZE (32)"), "\($0)")
    }
    // The authors' -1 for "no classes" is the model's 0, and reads back as -1.
    let c = try TrainConfig(yaml: "network:\n  num_classes: -1")
    XCTAssertEqual(c.network.numClasses, 0)
    XCTAssertTrue(c.yaml().contains("num_classes: -1"), c.yaml())
    XCTAssertEqual(try TrainConfig(yaml: "network:\n  num_classes: 10").network.extraTokens, 2)
  }

  /// `--set` and a plan's `set:` are the same typed edit, checked when written.
  func testEditsByKey() throws {
    var c = try TrainConfig(yaml: "")
    c = try c.applying([try ConfigEdit(assignment: "dataset.MASK_RATIO=0.75"), try ConfigEdit(assignment: "dataset.CLASSES=[1, 2]"),
                        try ConfigEdit(assignment: "network.mlp_ratio=2"), try ConfigEdit(assignment: "clip_grad=null")],
                       source: "--set")
    XCTAssertEqual(c.dataset.maskRatio, 0.75)
    XCTAssertEqual(c.dataset.classes, [1, 2])
    XCTAssertEqual(c.network.mlpRatio, 2)
    XCTAssertNil(c.clipGrad)
    XCTAssertThrowsError(try ConfigEdit(assignment: "dataset.MASK_RATO=0.5")) {
      XCTAssertTrue("\($0)".contains("did you mean dataset.MASK_RATIO"), "\($0)")
    }
    XCTAssertThrowsError(try ConfigEdit(assignment: "lr")) { XCTAssertTrue("\($0)".contains("key=value"), "\($0)") }
    XCTAssertThrowsError(try c.applying([try ConfigEdit(assignment: "objective=pred_eps")], source: "--set")) {
      XCTAssertTrue("\($0)".contains("pred_noise, pred_x0, pred_v"), "\($0)")
    }
    XCTAssertThrowsError(try c.applying([try ConfigEdit(assignment: "dataset.CLASSES={a: 1}")], source: "--set")) {
      XCTAssertTrue("\($0)".contains("a: 1") && !"\($0)".contains("Node"), "the value as written, not a YAML node: \($0)")
    }
    // A set: mapping, nested or dotted, is the same list of edits.
    let nested = try ConfigEdit.edits(from: try Yams.compose(yaml: "lr: 0.1\ndataset:\n  MASK_RATIO: 0.5"), path: "set")
    let dotted = try ConfigEdit.edits(from: try Yams.compose(yaml: "lr: 0.1\ndataset.MASK_RATIO: 0.5"), path: "set")
    XCTAssertEqual(nested, dotted)
    XCTAssertEqual(nested.map(\.key), ["lr", "dataset.MASK_RATIO"])
    XCTAssertTrue(try ConfigEdit.disabling("network.use_pos_embed").value.bool == false)
    XCTAssertThrowsError(try ConfigEdit.disabling("lr")) { XCTAssertTrue("\($0)".contains("not a true/false key"), "\($0)") }
  }

  /// The loss the configuration names is the loss that trains (it was once accepted and ignored).
  func testLossTypeReachesTheDiffusion() throws {
    let kinds = try Engine.run { try ["loss_type: l1", "loss_type: l2", ""].map { try TrainConfig(yaml: $0).diffusion().lossKind } }
    XCTAssertEqual(kinds, [.l1, .l2, .l2], "l1, l2, and the paper's MSE by default")
  }

  func testResolvedYAMLRoundTrips() throws {
    var c = try TrainConfig(yaml: authorsFile)
    c.clipGrad = 1
    c.dataset.classes = [0, 2]
    c.network.usePositionEmbedding = false
    c.trainSeconds = 90
    let again = try TrainConfig(yaml: c.yaml())
    XCTAssertEqual(again, c)
    XCTAssertTrue(c.yaml().contains("MASK_RATIO: 0.9"))
  }

  func testShippedConfigsLoad() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.appendingPathComponent("configs")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
    XCTAssertGreaterThanOrEqual(files.count, 4)
    for f in files { XCTAssertNoThrow(try TrainConfig(contentsOf: dir.appendingPathComponent(f)), f) }
  }

  /// The mask is one typed setting (`MaskKind`); the authors' three keys are read into it in any order
  /// and written from it, -1 for the sizes of the kinds not in use.
  func testTheAuthorsThreeMaskKeysAreOneMask() throws {
    let block = try TrainConfig(yaml: "dataset:\n  MASK_BLOCK_SIZE: 4\n  MASK_CROP_SIZE: -1\n  MASK_TYPE: block\n  MASK_RATIO: 0.5")
    XCTAssertEqual(block.dataset.mask, .block(4))
    XCTAssertTrue(block.yaml().contains("MASK_TYPE: \"block\"\n  MASK_BLOCK_SIZE: 4\n  MASK_CROP_SIZE: -1"), block.yaml())
    XCTAssertEqual(try TrainConfig(yaml: block.yaml()), block)
    let crop = try TrainConfig(yaml: "dataset: {MASK_TYPE: crop, MASK_CROP_SIZE: 5, MASK_BLOCK_SIZE: 4}")
    XCTAssertEqual(crop.dataset.mask, .crop(5))
    XCTAssertEqual(try TrainConfig(yaml: "dataset: {MASK_TYPE: patch, MASK_BLOCK_SIZE: 4}").dataset.mask, .patch)
    // Edits: the kind first, then its size; a size of another kind leaves the mask as it is.
    let edited = try TrainConfig().applying([try ConfigEdit(assignment: "dataset.MASK_BLOCK_SIZE=2"), try ConfigEdit(assignment: "dataset.MASK_TYPE=block")], source: "t")
    XCTAssertEqual(edited.dataset.mask, .block(2))
    XCTAssertEqual(try block.applying([try ConfigEdit(assignment: "dataset.MASK_CROP_SIZE=3")], source: "t").dataset.mask, .block(4))
    XCTAssertThrowsError(try TrainConfig(yaml: "dataset: {MASK_TYPE: block, MASK_RATIO: 0.5}")) {
      XCTAssertTrue("\($0)".contains("MASK_BLOCK_SIZE"), "\($0)")
    }
  }
}
