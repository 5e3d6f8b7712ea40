import Datasets
import Foundation
import XCTest

/// Readers, preprocessing, packing and the loader.
final class DatasetsTests: XCTestCase {
  func temporary(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
  }

  func gradient(_ w: Int, _ h: Int, _ c: Int) -> [UInt8] {
    (0..<(w * h * c)).map { UInt8(($0 * 7 + $0 / (w * c) * 13) % 256) }
  }

  func testPNGRoundTripAndJPEGDecode() throws {
    for c in [1, 3] {
      let pixels = gradient(5, 3, c)
      let png = try encodePNG(pixels: pixels, width: 5, height: 3, channels: c)
      XCTAssertEqual(try decodeImage(data: png), DecodedImage(width: 5, height: 3, channels: c, pixels: pixels))
      let jpeg = try encodeJPEG(pixels: [UInt8](repeating: 128, count: 16 * 8 * c), width: 16, height: 8, channels: c)
      let back = try decodeImage(data: jpeg)
      XCTAssertEqual([back.width, back.height, back.channels], [16, 8, c])
      XCTAssertTrue(back.pixels.allSatisfy { abs(Int($0) - 128) <= 2 })
    }
    XCTAssertThrowsError(try decodeImage(data: [1, 2, 3, 4]))
  }

  func testBadImagesAreNamedAndSkippedOrStop() throws {
    let dir = temporary("folder")
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let good = try encodePNG(pixels: gradient(8, 8, 3), width: 8, height: 8, channels: 3)
    try Data(good).write(to: dir.appendingPathComponent("a.png"))
    try Data(good).write(to: dir.appendingPathComponent("sub/b.png"))
    try Data(good.prefix(40)).write(to: dir.appendingPathComponent("sub/truncated.png"))
    try Data("not an image".utf8).write(to: dir.appendingPathComponent("corrupt.jpg"))
    let out = temporary("packed")
    defer { try? FileManager.default.removeItem(at: out) }
    XCTAssertThrowsError(try prepareDataset(.imageFolder(path: dir.path), options: PrepareOptions(size: 4, channels: 3), to: out)) {
      XCTAssertTrue("\($0)".contains("corrupt.jpg") || "\($0)".contains("truncated.png"), "\($0)")
    }
    let manifest = try prepareDataset(.imageFolder(path: dir.path), options: PrepareOptions(size: 4, channels: 3, onBadImage: .skip), to: out)
    XCTAssertEqual(manifest.count, 2, "the two good images, found recursively")
    XCTAssertEqual(manifest.skipped.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted(), ["corrupt.jpg", "truncated.png"])
    let packed = try PackedDataset(directory: out)
    XCTAssertEqual([packed.count, packed.height, packed.width, packed.channels], [2, 4, 4, 3])
    XCTAssertNoThrow(try packed.verify())
  }

  /// prepare -o replaces an earlier prepared dataset, never a folder of the user's (it once deleted
  /// the output folder whatever it held: notes, the working directory, the source images).
  func testPrepareNeverDeletesAFolderThatIsNotAPreparedDataset() throws {
    let notes = temporary("notes")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: notes) }
    try Data("x".utf8).write(to: notes.appendingPathComponent("notes.txt"))
    XCTAssertThrowsError(try prepareDataset(.synthetic(count: 10, seed: 1), options: PrepareOptions(size: 8, channels: 3), to: notes)) {
      XCTAssertTrue("\($0)".contains("notes.txt") && "\($0)".contains("nothing was changed"), "\($0)")
    }
    XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("notes.txt"), encoding: .utf8), "x")
    // The source folder as the output: refused, its images kept.
    let images = temporary("images")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: images) }
    try Data(try encodePNG(pixels: gradient(8, 8, 3), width: 8, height: 8, channels: 3)).write(to: images.appendingPathComponent("a.png"))
    XCTAssertThrowsError(try prepareDataset(.imageFolder(path: images.path), options: PrepareOptions(size: 4, channels: 3), to: images))
    XCTAssertTrue(FileManager.default.fileExists(atPath: images.appendingPathComponent("a.png").path))
    // An earlier prepared dataset is replaced.
    let out = temporary("prepared")
    defer { try? FileManager.default.removeItem(at: out) }
    _ = try prepareDataset(.synthetic(count: 10, seed: 1), options: PrepareOptions(size: 8, channels: 3), to: out)
    XCTAssertEqual(try prepareDataset(.synthetic(count: 12, seed: 2), options: PrepareOptions(size: 8, channels: 3), to: out).count, 12)
  }

  func testMissingAndEmptyDatasetsAreExplained() throws {
    let empty = temporary("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: empty) }
    let out = temporary("out")
    XCTAssertThrowsError(try prepareDataset(.imageFolder(path: "/no/such/folder"), options: PrepareOptions(size: 4, channels: 3), to: out)) {
      XCTAssertTrue("\($0)".contains("not found: /no/such/folder"), "\($0)")
    }
    XCTAssertThrowsError(try prepareDataset(.imageFolder(path: empty.path), options: PrepareOptions(size: 4, channels: 3), to: out)) {
      XCTAssertTrue("\($0)".contains("no PNG, JPEG or WebP images"), "\($0)")
    }
    XCTAssertThrowsError(try PackedDataset(directory: empty)) { XCTAssertTrue("\($0)".contains("maskdm prepare"), "\($0)") }
  }

  func testFashionMNISTFromDebian() throws {
    let out = temporary("fmnist")
    defer { try? FileManager.default.removeItem(at: out) }
    let m = try prepareDataset(.fashionMNIST(path: nil, split: "test"), options: PrepareOptions(size: 32, channels: 1, classes: [0, 7]), to: out)
    let packed = try PackedDataset(directory: out)
    XCTAssertEqual(m.count, 2000, "1000 test images per class")
    XCTAssertEqual(Set(packed.labels!), [0, 7])
    // 28 -> 32 by padding two zero rows and columns on every side.
    let im = packed.image(0)
    XCTAssertTrue(im[0..<(2 * 32)].allSatisfy { $0 == 0 })
    XCTAssertTrue(stride(from: 0, to: 32 * 32, by: 32).allSatisfy { im[$0] == 0 && im[$0 + 1] == 0 })
    let train = try readIDX(URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"))
    XCTAssertEqual(train.shape, [60000])
    XCTAssertEqual(Set(train.bytes), Set(0...9))
  }

  func testResizeCropPadAndChannels() {
    // A 4x4 image of four flat 2x2 quadrants shrinks by area averaging to those four values.
    let quad: [UInt8] = [10, 10, 20, 20, 10, 10, 20, 20, 30, 30, 40, 40, 30, 30, 40, 40]
    let im = DecodedImage(width: 4, height: 4, channels: 1, pixels: quad)
    XCTAssertEqual(im.resized(width: 2, height: 2).pixels, [10, 20, 30, 40])
    XCTAssertEqual(im.cropped(x: 2, y: 0, width: 2, height: 2).pixels, [20, 20, 20, 20])
    XCTAssertEqual(im.cropped(.center).pixels, quad)
    XCTAssertEqual(im.padded(1).width, 6)
    XCTAssertEqual(im.padded(1).pixels[7], 10)
    XCTAssertEqual(im.withChannels(3).pixels.prefix(3), [10, 10, 10])
    let up = DecodedImage(width: 2, height: 1, channels: 1, pixels: [0, 200]).resized(width: 4, height: 1).pixels
    XCTAssertEqual(up, [0, 50, 150, 200])
  }

  func testLoaderIsDeterministicResumableAndFlips() throws {
    let out = temporary("synthetic")
    defer { try? FileManager.default.removeItem(at: out) }
    try prepareDataset(.synthetic(count: 50, seed: 1), options: PrepareOptions(size: 8, channels: 3), to: out)
    let data = try PackedDataset(directory: out)
    func run(_ start: LoaderPosition, _ n: Int, flip: Double = 0.5) throws -> ([[UInt8]], LoaderPosition) {
      let loader = try BatchLoader(dataset: data, batchSize: 8, seed: 3, flipProbability: flip, start: start)
      defer { loader.stop() }
      let batches = try (0..<n).map { _ in try loader.next().pixels }
      return (batches, loader.position)
    }
    let (all, end) = try run(LoaderPosition(epoch: 0, index: 0), 14)
    XCTAssertEqual(end, LoaderPosition(epoch: 2, index: 2), "6 full batches per epoch, the partial one dropped")
    XCTAssertEqual(try run(LoaderPosition(epoch: 0, index: 0), 14).0, all, "same seed, same batches")
    let (_, middle) = try run(LoaderPosition(epoch: 0, index: 0), 5)
    XCTAssertEqual(try run(middle, 9).0, Array(all[5...]), "resuming from a position continues the sequence")
    XCTAssertNotEqual(all[0], all[6], "epochs are reshuffled")
    let (plain, _) = try run(LoaderPosition(epoch: 0, index: 0), 1, flip: 0)
    XCTAssertNotEqual(plain[0], all[0], "some images are mirrored")
  }

  func testShardsAreDisjointAndTogetherTheWholeBatch() throws {
    let out = temporary("shards")
    defer { try? FileManager.default.removeItem(at: out) }
    try prepareDataset(.synthetic(count: 50, seed: 1), options: PrepareOptions(size: 8, channels: 3), to: out)
    let data = try PackedDataset(directory: out)
    let whole = try BatchLoader(dataset: data, batchSize: 8, seed: 3, flipProbability: 0.5)
    defer { whole.stop() }
    let n = data.imageBytes
    for groups in [1, 2] {
      let shards = try (0..<2).map { try BatchLoader(dataset: data, batchSize: 8, seed: 3, flipProbability: 0.5, shard: LoaderShard(rank: $0, count: 2, groups: groups)) }
      defer { shards.forEach { $0.stop() } }
      for index in 0..<3 {
        let full = whole.batch(at: LoaderPosition(epoch: 0, index: index)).pixels
        let parts = shards.map { $0.batch(at: LoaderPosition(epoch: 0, index: index)) }
        XCTAssertEqual(parts.map(\.count), [4, 4])
        // Rank r holds rows [r*part, (r+1)*part) of every micro-batch chunk, flips included.
        var rebuilt = [UInt8](repeating: 0, count: full.count)
        for (r, part) in parts.enumerated() {
          for (j, row) in LoaderShard(rank: r, count: 2, groups: groups).rows(batchSize: 8).enumerated() {
            rebuilt[(row * n)..<((row + 1) * n)] = part.pixels[(j * n)..<((j + 1) * n)]
          }
        }
        XCTAssertEqual(rebuilt, full, "groups \(groups), batch \(index): the shards together are the batch")
      }
    }
    XCTAssertEqual(LoaderShard(rank: 1, count: 2, groups: 2).rows(batchSize: 8), [2, 3, 6, 7])
    XCTAssertThrowsError(try BatchLoader(dataset: data, batchSize: 7, seed: 3, flipProbability: 0, shard: LoaderShard(rank: 0, count: 2)))
  }

  /// hflip_prob is the probability of each image's mirror (it once flipped half the images whatever it said).
  func testFlipProbabilityIsHonouredPerImage() throws {
    var g = SplitMix64(seed: 11)
    let draws = (0..<200_000).map { _ in g.next() }
    for p in [0.0, 0.1, 0.3, 0.5, 0.9, 1.0] {
      let share = Double(draws.filter { BatchLoader.mirrors($0, probability: p) }.count) / Double(draws.count)
      XCTAssertEqual(share, p, accuracy: 0.005, "hflip_prob \(p)")  // 4.5 standard errors at most
    }
    let out = temporary("flips")
    defer { try? FileManager.default.removeItem(at: out) }
    try prepareDataset(.synthetic(count: 50, seed: 1), options: PrepareOptions(size: 8, channels: 3), to: out)
    XCTAssertThrowsError(try BatchLoader(dataset: try PackedDataset(directory: out), batchSize: 8, seed: 3, flipProbability: 1.5)) {
      XCTAssertTrue("\($0)".contains("hflip_prob"), "\($0)")
    }
  }

  func testSubsetIsFixedAndSized() {
    let a = BatchLoader.subset(count: 1000, fraction: 0.1, seed: 4)
    XCTAssertEqual(a.count, 100)
    XCTAssertEqual(a, BatchLoader.subset(count: 1000, fraction: 0.1, seed: 4))
    XCTAssertNotEqual(a, BatchLoader.subset(count: 1000, fraction: 0.1, seed: 5))
    XCTAssertEqual(BatchLoader.subset(count: 1000, fraction: 0.0001, seed: 4).count, 1)
    XCTAssertEqual(BatchLoader.subset(count: 10, fraction: nil, seed: 4), Array(0..<10))
  }

  /// One reading of dataset names for configurations and `maskdm prepare`: aliases included, case-insensitive.
  func testDatasetNamesAreReadOnce() {
    XCTAssertEqual(DatasetKind(name: "Fashion_MNIST"), .fashionMNIST)
    XCTAssertEqual(["celebahq", "FFHQ", "afhq", "folder"].map { DatasetKind(name: $0) }, [.folder, .folder, .folder, .folder])
    XCTAssertEqual(DatasetKind(name: "vggface"), .vggFace2)
    XCTAssertNil(DatasetKind(name: "imagenet"))
    for name in DatasetKind.names.components(separatedBy: ", ") { XCTAssertNotNil(DatasetKind(name: name), name) }
  }
}
