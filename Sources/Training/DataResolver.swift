// From a config's `dataset:` block to a packed, memory-mapped dataset. Raw sources are packed once
// (`maskdm prepare` does the same by hand) into a cache keyed by everything that changes the bytes:
// $MASKDM_CACHE, else ~/.cache/maskdm/datasets.
import Datasets
import Foundation

/// The directory packed datasets are cached in.
public func datasetCacheDirectory() -> URL {
  if let dir = ProcessInfo.processInfo.environment["MASKDM_CACHE"], !dir.isEmpty {
    return URL(fileURLWithPath: dir).appendingPathComponent("datasets")
  }
  return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/maskdm/datasets")
}

/// The source and packing options a config's dataset block describes.
func datasetSourceAndOptions(_ config: TrainConfig) throws -> (DatasetSource, PrepareOptions)? {
  var d = config.dataset
  // The cache is keyed by where the images are, not by how the path was written (a relative path from
  // another directory is another folder).
  if !d.path.isEmpty { d.path = URL(fileURLWithPath: d.path).standardizedFileURL.path }
  let source: DatasetSource
  var crop = CropMode.none
  guard let kind = DatasetKind(name: d.name) else {
    throw ConfigError("unknown dataset.NAME \(d.name); known: \(DatasetKind.names)")
  }
  switch kind {
  case .prepared: return nil
  case .fashionMNIST:
    source = .fashionMNIST(path: d.path.isEmpty ? nil : d.path, split: d.split)
  case .folder:
    guard !d.path.isEmpty else { throw ConfigError("dataset.PATH must name the image folder for dataset.NAME \(d.name)") }
    source = .imageFolder(path: d.path)
    crop = .center
  case .lsun, .lmdb:
    // LSUN ships as LMDB exports; the authors' lsun.py reads a folder of images. Both are taken.
    guard !d.path.isEmpty else {
      throw ConfigError("dataset.PATH must name the LMDB export (the folder holding data.mdb) or the image folder for dataset.NAME \(d.name)")
    }
    source = kind == .lmdb || isLMDBExport(d.path) ? .lmdb(path: d.path) : .imageFolder(path: d.path)
    crop = .center
  case .celebA:
    guard !d.path.isEmpty else { throw ConfigError("dataset.PATH must name the img_align_celeba folder") }
    source = .celebA(path: d.path, split: d.split)
    crop = .celebA64
  case .vggFace2:
    guard !d.path.isEmpty else { throw ConfigError("dataset.PATH must name the VGGFace2 folder") }
    source = .vggFace2(path: d.path)
    crop = .center
  case .synthetic:
    source = .synthetic(count: d.count, seed: 0)
  }
  if let classes = d.classes {
    switch source {
    case .imageFolder, .lmdb, .celebA:
      throw ConfigError("dataset.CLASSES \(classes) selects labelled images, but dataset.NAME \(d.name) has no labels; remove CLASSES "
                          + "(or use a labelled dataset: fashion-mnist, vggface2, synthetic)")
    case .fashionMNIST, .vggFace2, .synthetic: break
    }
  }
  var options = PrepareOptions(size: config.network.imageSize, channels: config.network.channels, crop: crop)
  options.classes = d.classes
  return (source, options)
}

/// Opens the packed dataset a config names, packing it into the cache first when needed. A cache whose
/// source files changed since it was packed (names, sizes or modification times) is packed again, and
/// `notice` says so.
public func resolveDataset(_ config: TrainConfig, progress: ((Int, Int) -> Void)? = nil,
                           notice: ((String) -> Void)? = nil) throws -> PackedDataset {
  guard let (source, options) = try datasetSourceAndOptions(config) else {
    guard !config.dataset.path.isEmpty else {
      throw ConfigError("dataset.NAME prepared needs dataset.PATH: a directory written by `maskdm prepare`")
    }
    let packed = try checked(PackedDataset(directory: URL(fileURLWithPath: config.dataset.path)), config)
    // A prepared folder holds the classes it was prepared with; CLASSES must say the same, or it would
    // be ignored without a word.
    if let wanted = config.dataset.classes, Set(wanted) != Set(packed.manifest.options.classes ?? []) {
      let held = packed.manifest.options.classes.map { "classes \($0)" } ?? "every class"
      throw ConfigError("dataset.CLASSES \(wanted) cannot be applied to the prepared dataset \(config.dataset.path), which holds \(held); "
                          + "prepare the classes into a folder of their own (maskdm prepare SOURCE -o DIR --classes "
                          + wanted.map(String.init).joined(separator: ",") + ") or remove CLASSES")
    }
    return packed
  }
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys]
  let identity = String(decoding: try encoder.encode(source), as: UTF8.self) + String(decoding: try encoder.encode(options), as: UTF8.self)
  let key = fnv1aHex(identity)
  let directory = datasetCacheDirectory().appendingPathComponent("\(config.dataset.name.lowercased())-\(key)")
  let fingerprint = sourceFingerprint(source)
  let recorded = directory.appendingPathComponent("source-fingerprint")
  let fm = FileManager.default
  if fm.fileExists(atPath: directory.appendingPathComponent("manifest.json").path),
     (try? String(contentsOf: recorded, encoding: .utf8)) != fingerprint {
    notice?("the files of \(config.dataset.path.isEmpty ? config.dataset.name : config.dataset.path) changed since they were packed into \(directory.path); packing them again")
    try fm.removeItem(at: directory)
  }
  if !fm.fileExists(atPath: directory.appendingPathComponent("manifest.json").path) {
    try fm.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
    do { _ = try prepareDataset(source, options: options, to: directory, progress: progress, notice: notice) } catch let bad as BadImageError {
      // Training has no --on-bad-image; packing the folder once with `maskdm prepare` does.
      let prepareSource: String
      switch source {
      case let .celebA(path, _): prepareSource = "celeba:\(path)"
      case let .vggFace2(path): prepareSource = "vggface2:\(path)"
      default: prepareSource = "folder:\(config.dataset.path)"
      }
      throw ConfigError("bad image \(bad.name): \(bad.reason); fix or remove it, or pack the images once without it: `maskdm prepare \(prepareSource) -o DIR --on-bad-image skip`, then train with --set dataset.NAME=prepared --set dataset.PATH=DIR")
    }
    try writeAtomically(Data(fingerprint.utf8), to: recorded)
  }
  return try checked(PackedDataset(directory: directory), config)
}

private func checked(_ dataset: PackedDataset, _ config: TrainConfig) throws -> PackedDataset {
  let n = config.network
  guard dataset.height == n.imageSize, dataset.width == n.imageSize, dataset.channels == n.channels else {
    throw ConfigError("the dataset holds \(dataset.width)x\(dataset.height)x\(dataset.channels) images but the network expects "
                        + "\(n.imageSize)x\(n.imageSize)x\(n.channels); re-prepare it or change network.img_size / in_chans")
  }
  return dataset
}

/// A hash of the names, sizes and modification times of every file a source reads (empty for
/// synthetic sets, which are a function of their settings).
func sourceFingerprint(_ source: DatasetSource) -> String {
  let root: String
  switch source {
  case let .fashionMNIST(path, _): root = path ?? DatasetSource.debianFashionMNIST
  case let .imageFolder(path), let .celebA(path, _), let .vggFace2(path), let .lmdb(path): root = path
  case .synthetic: return ""
  }
  let fm = FileManager.default
  let url = URL(fileURLWithPath: root)
  var entries: [String] = []
  func describe(_ file: URL, as name: String) {
    guard let a = try? fm.attributesOfItem(atPath: file.path) else { return }
    let size = (a[.size] as? NSNumber)?.int64Value ?? -1
    let modified = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    entries.append("\(name)\t\(size)\t\(modified)")
  }
  var isDirectory: ObjCBool = false
  if fm.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue,
     let walker = fm.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey]) {
    for case let file as URL in walker where (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
      // An LMDB's lock file changes on every read by other tools; it is not data.
      if file.lastPathComponent == "lock.mdb" { continue }
      describe(file, as: String(file.path.dropFirst(url.path.count)))
    }
  } else {
    describe(url, as: url.lastPathComponent)
  }
  return fnv1aHex(entries.sorted().joined(separator: "\n"))
}
