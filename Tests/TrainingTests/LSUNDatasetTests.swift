import DatasetFixtures
import Datasets
import Foundation
import Training
import XCTest

/// `dataset.NAME: lsun` (the authors' church256_base.yml): an LMDB export or, as the authors' lsun.py
/// reads it, a folder of images.
final class LSUNDatasetTests: ScratchCacheTestCase {
  /// The authors' church256_base.yml as they ship it, but for the data path and a 16-pixel image size
  /// (so that packing takes no time).
  func churchConfig(name: String = "lsun", path: String) throws -> TrainConfig {
    let yaml = """
      define: &img_size 16
      define: &patch_size 4
      batch_size: 64
      lr: 1.0e-4 # 2.0e-4
      adam_betas: [0.99, 0.99]
      weight_decay: 0.03
      results_folder: ""
      ema_decay: 0.9999
      ema_update_every: 1
      clip_grad: 1.0
      warmup_steps: 5000
      warmup_schedule: "lambda"
      beta_schedule: "linear"
      num_workers: 5
      normalization: true
      clip_max: 1
      clip_min: -1
      dataset:
        NAME: \(name)
        PATH: "\(path)"
        MASK_TYPE: "block"
        MASK_RATIO: 0.0
        MASK_BLOCK_SIZE: 4
        MASK_CROP_SIZE: -1
        hflip_prob: 0.5
      network:
        name : 'maskdm'
        img_size : *img_size
        patch_size : *patch_size
        in_chans : 3
        encoder_embed_dim : 768
        encoder_depth : 12
        encoder_heads : 12
        mlp_ratio : 4
        qkv_bias : False
        mlp_time_embed : False
        use_checkpoint : False
      """
    let config = try TrainConfig(yaml: yaml, source: "church256_base.yml")
    try config.validate()
    return config
  }

  func testTheChurchConfigReadsAnLMDBExport() throws {
    let (a, b) = (fixtureImage(16, 16, seed: 1), fixtureImage(24, 16, seed: 2))
    let export = scratch.appendingPathComponent("church_outdoor_train_lmdb")
    try writeLMDB([("b", try encodeWebP(b, width: 24, height: 16, lossless: true)),
                   ("a", try encodePNG(pixels: a, width: 16, height: 16, channels: 3))], to: export)
    let data = try resolveDataset(try churchConfig(path: export.path))
    XCTAssertEqual(data.manifest.source, .lmdb(path: export.path))
    XCTAssertEqual([data.count, data.width, data.height, data.channels], [2, 16, 16, 3])
    XCTAssertEqual(data.image(0), a, "key a first")
    XCTAssertEqual(data.image(1), DecodedImage(width: 24, height: 16, channels: 3, pixels: b).cropped(x: 4, y: 0, width: 16, height: 16).pixels,
                   "key b, centre-cropped as celebahq and ffhq are")
  }

  func testTheChurchConfigReadsAFolderOfImagesAsTheAuthorsDo() throws {
    let folder = scratch.appendingPathComponent("church")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let (a, b) = (fixtureImage(16, 16, seed: 3), fixtureImage(16, 16, seed: 4))
    try writePNG(pixels: a, width: 16, height: 16, channels: 3, to: folder.appendingPathComponent("0.png"))
    try Data(try encodeWebP(b, width: 16, height: 16, lossless: true)).write(to: folder.appendingPathComponent("1.webp"))
    let data = try resolveDataset(try churchConfig(path: folder.path))
    XCTAssertEqual(data.manifest.source, .imageFolder(path: folder.path))
    XCTAssertEqual(data.manifest.options.crop, .center)
    XCTAssertEqual(data.count, 2)
    XCTAssertEqual([data.image(0), data.image(1)], [a, b])
  }

  func testLMDBNamesTheExportAndBadPathsAreExplained() throws {
    let folder = scratch.appendingPathComponent("images")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try writePNG(pixels: fixtureImage(16, 16, seed: 5), width: 16, height: 16, channels: 3, to: folder.appendingPathComponent("0.png"))
    XCTAssertThrowsError(try resolveDataset(try churchConfig(name: "lmdb", path: folder.path))) {
      XCTAssertTrue("\($0)".contains("holds no data.mdb"), "NAME lmdb insists on an export: \($0)")
    }
    XCTAssertThrowsError(try resolveDataset(try churchConfig(path: ""))) {
      XCTAssertTrue("\($0)".contains("dataset.PATH must name the LMDB export"), "\($0)")
    }
    XCTAssertThrowsError(try resolveDataset(try churchConfig(name: "lsnu", path: folder.path))) {
      XCTAssertTrue("\($0)".contains("lsun, lmdb"), "\($0)")
    }
  }
}
