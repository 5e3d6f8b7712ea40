import DatasetFixtures
import Datasets
import Foundation
import XCTest

/// LSUN's LMDB exports: reading every record, in key order, through liblmdb.
final class LMDBTests: XCTestCase {
  func temporary(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
  }

  func testWebPDecodesLosslessExactlyAndLossyClosely() throws {
    let pixels = fixtureImage(10, 6, seed: 1)
    let lossless = try encodeWebP(pixels, width: 10, height: 6, lossless: true)
    XCTAssertEqual(try decodeImage(data: lossless), DecodedImage(width: 10, height: 6, channels: 3, pixels: pixels))
    let smooth: [UInt8] = (0..<(32 * 32 * 3)).map { (i: Int) -> UInt8 in UInt8((i / 3 % 32) * 4 + (i % 3) * 30) }
    let lossy = try decodeImage(data: try encodeWebP(smooth, width: 32, height: 32, lossless: false))
    XCTAssertEqual([lossy.width, lossy.height, lossy.channels], [32, 32, 3])
    var totalError = 0
    for (x, y) in zip(lossy.pixels, smooth) { totalError += abs(Int(x) - Int(y)) }
    let meanError = Double(totalError) / Double(smooth.count)
    XCTAssertLessThan(meanError, 6, "lossy WebP at quality 90 stays close to its source")
    XCTAssertThrowsError(try decodeImage(data: Array(lossless.prefix(20)))) { XCTAssertTrue("\($0)".contains("WebP"), "\($0)") }
  }

  /// PNG, JPEG and WebP values are packed in key order (not insertion order), centre-cropped, with the
  /// source's pixels: exactly for PNG and lossless WebP, as the JPEG decoder gives them for JPEG.
  func testEveryRecordIsPackedInKeyOrderWithTheSourcePixels() throws {
    let (a, b, c, d) = (fixtureImage(8, 8, seed: 1), fixtureImage(12, 8, seed: 2), fixtureImage(8, 8, seed: 3), fixtureImage(8, 8, seed: 4))
    let jpeg = try encodeJPEG(pixels: c, width: 8, height: 8, channels: 3)
    let records: [(String, [UInt8])] = [
      ("d-lossless-webp", try encodeWebP(d, width: 8, height: 8, lossless: true)),
      ("a-png", try encodePNG(pixels: a, width: 8, height: 8, channels: 3)),
      ("c-jpeg", jpeg),
      ("b-wide-png", try encodePNG(pixels: b, width: 12, height: 8, channels: 3)),
    ]
    let dir = temporary("church_outdoor_train_lmdb"), out = temporary("packed")
    defer { for u in [dir, out] { try? FileManager.default.removeItem(at: u) } }
    try writeLMDB(records, to: dir)
    XCTAssertTrue(isLMDBExport(dir.path))
    let manifest = try prepareDataset(.lmdb(path: dir.path), options: PrepareOptions(size: 8, channels: 3, crop: .center), to: out)
    XCTAssertEqual(manifest.count, 4)
    XCTAssertFalse(manifest.hasLabels)
    let packed = try PackedDataset(directory: out)
    let wide = DecodedImage(width: 12, height: 8, channels: 3, pixels: b).cropped(x: 2, y: 0, width: 8, height: 8).pixels
    XCTAssertEqual(packed.image(0), a)
    XCTAssertEqual(packed.image(1), wide, "the centred 8x8 square of the 12x8 image")
    XCTAssertEqual(packed.image(2), try decodeImage(data: jpeg).pixels)
    XCTAssertNotEqual(packed.image(2), c, "JPEG is lossy: the packed pixels are the decoder's, not the source's")
    XCTAssertEqual(packed.image(3), d)
  }

  func testACorruptValueNamesItsKeyAndFollowsTheBadImagePolicy() throws {
    let good = try encodePNG(pixels: fixtureImage(4, 4, seed: 5), width: 4, height: 4, channels: 3)
    let webp = try encodeWebP(fixtureImage(4, 4, seed: 6), width: 4, height: 4, lossless: true)
    let dir = temporary("lmdb"), out = temporary("packed")
    defer { for u in [dir, out] { try? FileManager.default.removeItem(at: u) } }
    try writeLMDB([("0001", good), ("0002-text", Array("not an image".utf8)), ("0003-cut", Array(webp.prefix(webp.count / 2))),
                   ("0004", good)], to: dir)
    let options = PrepareOptions(size: 4, channels: 3, crop: .center)
    XCTAssertThrowsError(try prepareDataset(.lmdb(path: dir.path), options: options, to: out)) {
      XCTAssertTrue("\($0)".contains("key 0002-text in \(dir.path)"), "\($0)")
      XCTAssertTrue("\($0)".contains("not a PNG, JPEG or WebP image"), "\($0)")
      XCTAssertTrue("\($0)".contains("--on-bad-image skip"), "\($0)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing is written when it stops")
    var skipping = options
    skipping.onBadImage = .skip
    let manifest = try prepareDataset(.lmdb(path: dir.path), options: skipping, to: out)
    XCTAssertEqual(manifest.count, 2)
    XCTAssertEqual(manifest.skipped, ["key 0002-text in \(dir.path)", "key 0003-cut in \(dir.path)"])
  }

  /// The export is opened read-only with no lock file, so read-only media work: no lock.mdb appears and
  /// data.mdb is left as it was. A data.mdb file named by itself is read too.
  func testTheExportIsReadWithoutWritingBesideIt() throws {
    let dir = temporary("lmdb"), out = temporary("packed")
    defer { for u in [dir, out] { try? FileManager.default.removeItem(at: u) } }
    let png = try encodePNG(pixels: fixtureImage(4, 4, seed: 7), width: 4, height: 4, channels: 3)
    try writeLMDB([("k", png)], to: dir)
    try FileManager.default.removeItem(at: dir.appendingPathComponent("lock.mdb"))
    let data = dir.appendingPathComponent("data.mdb")
    let before = try Data(contentsOf: data)
    let options = PrepareOptions(size: 4, channels: 3)
    XCTAssertEqual(try prepareDataset(.lmdb(path: dir.path), options: options, to: out).count, 1)
    XCTAssertEqual(try prepareDataset(.lmdb(path: data.path), options: options, to: out).count, 1)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["data.mdb"])
    XCTAssertEqual(try Data(contentsOf: data), before)
  }

  func testAMissingOrNonLMDBPathIsExplained() throws {
    let plain = temporary("plain"), fake = temporary("fake"), out = temporary("packed")
    defer { for u in [plain, fake, out] { try? FileManager.default.removeItem(at: u) } }
    try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: fake, withIntermediateDirectories: true)
    try Data(repeating: 7, count: 8192).write(to: fake.appendingPathComponent("data.mdb"))
    let options = PrepareOptions(size: 4, channels: 3)
    XCTAssertThrowsError(try prepareDataset(.lmdb(path: "/no/such/lmdb"), options: options, to: out)) {
      XCTAssertTrue("\($0)".contains("LMDB export not found: /no/such/lmdb") && "\($0)".contains("holding data.mdb"), "\($0)")
    }
    XCTAssertThrowsError(try prepareDataset(.lmdb(path: plain.path), options: options, to: out)) {
      XCTAssertTrue("\($0)".contains("holds no data.mdb") && "\($0)".contains("folder dataset"), "\($0)")
    }
    XCTAssertThrowsError(try prepareDataset(.lmdb(path: fake.path), options: options, to: out)) {
      XCTAssertTrue("\($0)".contains("cannot open \(fake.path) as an LMDB export"), "\($0)")
    }
    XCTAssertFalse(isLMDBExport(plain.path))
    XCTAssertFalse(isLMDBExport("/no/such/lmdb"))
  }

  /// LSUN's own export tool writes a folder of .webp files; a folder source reads them.
  func testAFolderOfWebPFilesIsRead() throws {
    let dir = temporary("webp-folder"), out = temporary("packed")
    defer { for u in [dir, out] { try? FileManager.default.removeItem(at: u) } }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let pixels = fixtureImage(6, 6, seed: 8)
    try Data(try encodeWebP(pixels, width: 6, height: 6, lossless: true)).write(to: dir.appendingPathComponent("x.webp"))
    XCTAssertEqual(try prepareDataset(.imageFolder(path: dir.path), options: PrepareOptions(size: 6, channels: 3), to: out).count, 1)
    XCTAssertEqual(try PackedDataset(directory: out).image(0), pixels)
  }
}
