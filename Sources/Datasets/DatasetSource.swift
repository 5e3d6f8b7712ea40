// Where images come from: Fashion-MNIST's IDX files, folders of PNG/JPEG/WebP (CelebA, CelebA-HQ, FFHQ,
// AFHQ, LSUN, VGGFace2 identity folders with labels), LMDB exports (LSUN) and deterministic synthetic
// sets for tests.
import Foundation

/// A raw dataset.
public enum DatasetSource: Codable, Equatable, Sendable {
  /// Fashion-MNIST; nil path = Debian's /usr/share/datasets/fashion-mnist. split: train or test.
  case fashionMNIST(path: String?, split: String)
  /// Every PNG/JPEG/WebP below a folder (recursively), in path order; no labels.
  case imageFolder(path: String)
  /// Every record of an LMDB export (LSUN's format: a folder holding data.mdb, or the data.mdb file),
  /// in key order; each value is a PNG, JPEG or WebP image, told apart by its first bytes. No labels.
  case lmdb(path: String)
  /// img_align_celeba; with list_eval_partition.txt beside or inside it, `split` (train, valid, test) selects.
  case celebA(path: String, split: String)
  /// VGGFace2: one folder per identity; the identity's index is the label.
  case vggFace2(path: String)
  /// Coloured shapes on gradients, 32x32 RGB, labels 0..9, a pure function of (count, seed).
  case synthetic(count: Int, seed: UInt64)

  /// The Debian location of Fashion-MNIST.
  public static let debianFashionMNIST = "/usr/share/datasets/fashion-mnist"
}

/// A list of images that can be loaded one by one (so folders are decoded lazily and in parallel).
struct SourceItems {
  var count: Int
  var name: (Int) -> String
  var load: (Int) throws -> (DecodedImage, Int32?)
  var hasLabels: Bool
}

func sourceItems(_ source: DatasetSource) throws -> SourceItems {
  switch source {
  case let .fashionMNIST(path, split):
    let dir = URL(fileURLWithPath: path ?? DatasetSource.debianFashionMNIST)
    let prefix = split == "test" ? "t10k" : "train"
    guard ["train", "test"].contains(split) else { throw DatasetError("Fashion-MNIST splits are train and test, not \(split)") }
    let imagesURL = dir.appendingPathComponent("\(prefix)-images-idx3-ubyte.gz")
    guard FileManager.default.fileExists(atPath: imagesURL.path) else {
      throw DatasetError("Fashion-MNIST not found at \(dir.path): install Debian's dataset-fashion-mnist (make does) or give its path")
    }
    let images = try readIDX(imagesURL)
    let labels = try readIDX(dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz"))
    guard images.shape.count == 3, labels.shape == [images.shape[0]] else {
      throw DatasetError("Fashion-MNIST files in \(dir.path) disagree on the image count")
    }
    let (n, h, w) = (images.shape[0], images.shape[1], images.shape[2])
    return SourceItems(count: n, name: { "\(prefix)[\($0)]" }, load: { i in
      (DecodedImage(width: w, height: h, channels: 1, pixels: Array(images.bytes[(i * h * w)..<((i + 1) * h * w)])), Int32(labels.bytes[i]))
    }, hasLabels: true)

  case let .imageFolder(path):
    let files = try imageFiles(under: URL(fileURLWithPath: path))
    return SourceItems(count: files.count, name: { files[$0].path }, load: { (try decodeImage(at: files[$0]), nil) }, hasLabels: false)

  case let .lmdb(path):
    let db = try LMDBReader(path: path)
    // The reader (and its memory map) lives as long as these closures.
    return SourceItems(count: db.count, name: { "key \(db.keyName($0)) in \(path)" },
                       load: { (try decodeImage(data: db.value($0)), nil) }, hasLabels: false)

  case let .celebA(path, split):
    var dir = URL(fileURLWithPath: path)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
      throw DatasetError("CelebA folder not found: \(path) (give the img_align_celeba folder)")
    }
    if FileManager.default.fileExists(atPath: dir.appendingPathComponent("img_align_celeba").path) {
      dir = dir.appendingPathComponent("img_align_celeba")
    }
    var files = try imageFiles(under: dir)
    let partitions = [dir.appendingPathComponent("list_eval_partition.txt"),
                      dir.deletingLastPathComponent().appendingPathComponent("list_eval_partition.txt")]
    if let list = partitions.first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
      let wanted = ["train": "0", "valid": "1", "test": "2"][split] ?? "0"
      let keep = Set(try String(contentsOf: list, encoding: .utf8).split(separator: "\n").compactMap { line -> String? in
        let parts = line.split(separator: " ")
        return parts.count == 2 && parts[1] == wanted ? String(parts[0]) : nil
      })
      files = files.filter { keep.contains($0.lastPathComponent) }
    }
    return SourceItems(count: files.count, name: { files[$0].path }, load: { (try decodeImage(at: files[$0]), nil) }, hasLabels: false)

  case let .vggFace2(path):
    let root = URL(fileURLWithPath: path)
    let identities = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted().filter {
      var d: ObjCBool = false
      return FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path, isDirectory: &d) && d.boolValue
    }
    var files: [(URL, Int32)] = []
    for (label, id) in identities.enumerated() {
      for f in try imageFiles(under: root.appendingPathComponent(id), allowEmpty: true) { files.append((f, Int32(label))) }
    }
    guard !files.isEmpty else { throw DatasetError("no images found in the identity folders of \(path)") }
    return SourceItems(count: files.count, name: { files[$0].0.path }, load: { (try decodeImage(at: files[$0].0), files[$0].1) }, hasLabels: true)

  case let .synthetic(count, seed):
    return SourceItems(count: count, name: { "synthetic[\($0)]" }, load: { i in syntheticImage(i, seed: seed) }, hasLabels: true)
  }
}

/// PNG, JPEG and WebP files below `root`, sorted by path.
public func imageFiles(under root: URL, allowEmpty: Bool = false) throws -> [URL] {
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir) else {
    throw DatasetError("dataset path not found: \(root.path)")
  }
  guard isDir.boolValue else { throw DatasetError("\(root.path) is not a folder of images") }
  let extensions: Set<String> = ["png", "jpg", "jpeg", "webp"]
  let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
  var files: [URL] = []
  while let url = walker?.nextObject() as? URL {
    if extensions.contains(url.pathExtension.lowercased()) { files.append(url) }
  }
  files.sort { $0.path < $1.path }
  if files.isEmpty, !allowEmpty { throw DatasetError("no PNG, JPEG or WebP images found under \(root.path)") }
  return files
}

/// Image i of the synthetic set: a filled shape (class = shape kind x colour) on a soft gradient.
func syntheticImage(_ i: Int, seed: UInt64) -> (DecodedImage, Int32?) {
  var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(i))
  let label = Int(rng.next() % 10)
  let size = 32
  let cx = 8 + Double(rng.next() % 16), cy = 8 + Double(rng.next() % 16), r = 4 + Double(rng.next() % 6)
  let colour: [Double] = [[230, 60, 60], [60, 200, 80], [70, 90, 230], [230, 200, 50], [200, 80, 210]][label % 5]
  let background = Double(rng.next() % 80)
  var pixels = [UInt8](repeating: 0, count: size * size * 3)
  for y in 0..<size {
    for x in 0..<size {
      let dx = Double(x) - cx, dy = Double(y) - cy
      let inside = label < 5 ? dx * dx + dy * dy <= r * r : Swift.abs(dx) <= r && Swift.abs(dy) <= r
      for c in 0..<3 {
        let v = inside ? colour[c] : background + Double(x + y) * 1.5
        pixels[(y * size + x) * 3 + c] = UInt8(min(255, v))
      }
    }
  }
  return (DecodedImage(width: size, height: size, channels: 3, pixels: pixels), Int32(label))
}

/// SplitMix64: a small, fast, seedable generator (Steele et al.) for shuffles, flips and subsets.
public struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// What a dataset's name means: the one reading of a configuration's `dataset.NAME` and of
/// `maskdm prepare NAME:ARG`, aliases included, so that both accept the same names.
public enum DatasetKind: String, CaseIterable, Sendable {
  /// A directory written by `maskdm prepare`.
  case prepared
  case fashionMNIST = "fashion-mnist"
  /// A folder of images (CelebA-HQ, FFHQ and AFHQ are folders).
  case folder
  /// LSUN: an LMDB export or a folder of images.
  case lsun
  case lmdb
  case celebA = "celeba"
  case vggFace2 = "vggface2"
  case synthetic

  /// Other names of each kind.
  static let aliases: [String: DatasetKind] = [
    "fashion_mnist": .fashionMNIST, "fashionmnist": .fashionMNIST, "celebahq": .folder, "ffhq": .folder, "afhq": .folder,
    "vggface": .vggFace2,
  ]

  /// The kind `name` names (case-insensitive), nil for a name this tool does not read.
  public init?(name: String) {
    let n = name.lowercased()
    guard let kind = DatasetKind(rawValue: n) ?? Self.aliases[n] else { return nil }
    self = kind
  }

  /// The names, for messages: "fashion-mnist, folder, celeba, celebahq, ffhq, afhq, lsun, lmdb, vggface2, synthetic, prepared".
  public static var names: String {
    ["fashion-mnist", "folder", "celeba", "celebahq", "ffhq", "afhq", "lsun", "lmdb", "vggface2", "synthetic", "prepared"].joined(separator: ", ")
  }
}
