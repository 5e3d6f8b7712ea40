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
  let d = config.dataset
  let source: DatasetSource
  var crop = CropMode.none
  switch d.name.lowercased() {
  case "prepared": return nil
  case "fashion-mnist", "fashion_mnist", "fashionmnist":
    source = .fashionMNIST(path: d.path.isEmpty ? nil : d.path, split: d.split)
  case "folder", "celebahq", "ffhq", "afhq":
    guard !d.path.isEmpty else { throw ConfigError("dataset.PATH must name the image folder for dataset.NAME \(d.name)") }
    source = .imageFolder(path: d.path)
    crop = .center
  case "lsun", "lmdb":
    // LSUN ships as LMDB exports; the authors' lsun.py reads a folder of images. Both are taken.
    guard !d.path.isEmpty else {
      throw ConfigError("dataset.PATH must name the LMDB export (the folder holding data.mdb) or the image folder for dataset.NAME \(d.name)")
    }
    source = d.name.lowercased() == "lmdb" || isLMDBExport(d.path) ? .lmdb(path: d.path) : .imageFolder(path: d.path)
    crop = .center
  case "celeba":
    guard !d.path.isEmpty else { throw ConfigError("dataset.PATH must name the img_align_celeba folder") }
    source = .celebA(path: d.path, split: d.split)
    crop = .celebA64
  case "vggface2", "vggface":
    guard !d.path.isEmpty else { throw ConfigError("dataset.PATH must name the VGGFace2 folder") }
    source = .vggFace2(path: d.path)
    crop = .center
  case "synthetic":
    source = .synthetic(count: d.count, seed: 0)
  default:
    throw ConfigError("unknown dataset.NAME \(d.name); known: fashion-mnist, folder, celeba, celebahq, ffhq, afhq, lsun, lmdb, vggface2, synthetic, prepared")
  }
  var options = PrepareOptions(size: config.network.imageSize, channels: config.network.channels, crop: crop)
  options.classes = d.classes
  return (source, options)
}

/// Opens the packed dataset a config names, packing it into the cache first when needed.
public func resolveDataset(_ config: TrainConfig, progress: ((Int, Int) -> Void)? = nil) throws -> PackedDataset {
  guard let (source, options) = try datasetSourceAndOptions(config) else {
    guard !config.dataset.path.isEmpty else {
      throw ConfigError("dataset.NAME prepared needs dataset.PATH: a directory written by `maskdm prepare`")
    }
    return try checked(PackedDataset(directory: URL(fileURLWithPath: config.dataset.path)), config)
  }
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys]
  let identity = String(decoding: try encoder.encode(source), as: UTF8.self) + String(decoding: try encoder.encode(options), as: UTF8.self)
  let key = String(format: "%016llx", fnv1a(identity))
  let directory = datasetCacheDirectory().appendingPathComponent("\(config.dataset.name.lowercased())-\(key)")
  if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("manifest.json").path) {
    try FileManager.default.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
    _ = try prepareDataset(source, options: options, to: directory, progress: progress)
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
