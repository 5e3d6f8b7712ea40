// Packing a dataset once into a memory-mappable cache: `pixels.u8` (N x H x W x C bytes),
// `labels.i32` when the source has labels, and `manifest.json` (source, count, size, checksum). The
// files are written into a staging folder beside the output (`StagingName`) and moved into place
// with manifest.json last, so a reader sees a whole dataset or none.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What to do with an image that does not decode.
public enum BadImagePolicy: String, Codable, Sendable {
  /// Leave it out and list it in the manifest.
  case skip
  /// Stop with an error naming the file.
  case stop
}

/// How images become cache entries.
public struct PrepareOptions: Codable, Equatable, Sendable {
  /// Output side length (square images).
  public var size: Int
  /// 1 (gray) or 3 (RGB; gray replicated).
  public var channels: Int
  public var crop: CropMode
  /// Keep only these labels (nil: all).
  public var classes: [Int]?
  /// Keep at most this many images (after class filtering).
  public var limit: Int?
  public var onBadImage: BadImagePolicy

  public init(size: Int, channels: Int, crop: CropMode = .none, classes: [Int]? = nil, limit: Int? = nil,
              onBadImage: BadImagePolicy = .stop) {
    (self.size, self.channels, self.crop, self.classes, self.limit, self.onBadImage) = (size, channels, crop, classes, limit, onBadImage)
  }
}

/// The description of a packed dataset, stored as manifest.json.
public struct DatasetManifest: Codable, Equatable, Sendable {
  public var format = 1
  public var source: DatasetSource
  public var options: PrepareOptions
  public var count: Int
  public var height: Int
  public var width: Int
  public var channels: Int
  public var hasLabels: Bool
  /// CRC-32 of pixels.u8, hexadecimal.
  public var checksum: String
  public var createdAt: String
  /// Images left out because they did not decode.
  public var skipped: [String]
}

/// Fits an image to `options`: crop, then zero-pad when it is smaller by an even margin (28 -> 32 for
/// Fashion-MNIST, as is customary), else resize; then convert channels.
func fit(_ image: DecodedImage, _ options: PrepareOptions) -> DecodedImage {
  var im = image.cropped(options.crop)
  let s = options.size
  if im.width == im.height, im.width < s, (s - im.width) % 2 == 0 {
    im = im.padded((s - im.width) / 2)
  } else {
    im = im.resized(width: s, height: s)
  }
  return im.withChannels(options.channels)
}

/// Packs `source` into `directory` and returns the manifest. `progress(done, total)` reports;
/// `notice` says what was cleaned up (staging folders of killed earlier runs).
@discardableResult
public func prepareDataset(_ source: DatasetSource, options: PrepareOptions, to output: URL,
                           progress: ((Int, Int) -> Void)? = nil, notice: ((String) -> Void)? = nil) throws -> DatasetManifest {
  guard options.size > 0, [1, 3].contains(options.channels) else {
    throw DatasetError("prepare needs a positive size and 1 or 3 channels")
  }
  // `-o .` is the folder itself, not an entry "." of it; a link to a folder (on another file system,
  // say) is replaced at the folder it points to, so that the staging folder is on that file system.
  let directory = try followingLinks(output.standardizedFileURL)
  try checkReplaceable(directory)
  let items = try sourceItems(source)
  guard items.count > 0 else { throw DatasetError("the dataset is empty") }
  let fm = FileManager.default
  let stale = StagingName.removeStale(for: directory)
  if !stale.isEmpty {
    notice?("removed \(stale.joined(separator: ", ")) in \(directory.deletingLastPathComponent().path): "
              + "left half-written by an earlier prepare that was killed")
  }
  let tmp = StagingName.url(for: directory)
  try? fm.removeItem(at: tmp)
  try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
  defer { try? fm.removeItem(at: tmp) }

  let per = options.size * options.size * options.channels
  let wanted = options.classes.map(Set.init)
  var pixels = Data()
  var labels: [Int32] = []
  var skipped: [String] = []
  var kept = 0
  let chunk = 512
  var start = 0
  let lock = NSLock()
  while start < items.count, kept < (options.limit ?? .max) {
    let end = min(items.count, start + chunk)
    var results = [Result<(DecodedImage, Int32?), Error>?](repeating: nil, count: end - start)
    DispatchQueue.concurrentPerform(iterations: end - start) { j in
      let r = Result { () -> (DecodedImage, Int32?) in
        let (image, label) = try items.load(start + j)
        if let wanted, let label, !wanted.contains(Int(label)) { return (image, label) }
        return (fit(image, options), label)
      }
      lock.lock()
      results[j] = r
      lock.unlock()
    }
    for (j, r) in results.enumerated() {
      switch r! {
      case let .success((image, label)):
        if let wanted { guard let label, wanted.contains(Int(label)) else { continue } }
        guard kept < (options.limit ?? .max) else { break }
        pixels.append(contentsOf: image.pixels)
        if let label { labels.append(label) }
        kept += 1
      case let .failure(error):
        if options.onBadImage == .stop {
          throw BadImageError(name: items.name(start + j), reason: "\(error)")
        }
        skipped.append(items.name(start + j))
      }
    }
    start = end
    progress?(start, items.count)
  }
  guard kept > 0 else {
    throw DatasetError(wanted == nil ? "no image could be read from the source" : "no image has one of the classes \(options.classes!)")
  }
  assert(pixels.count == kept * per)
  try pixels.write(to: tmp.appendingPathComponent("pixels.u8"))
  if items.hasLabels {
    try labels.withUnsafeBytes { try Data($0).write(to: tmp.appendingPathComponent("labels.i32")) }
  }
  let checksum = pixels.withUnsafeBytes { crc32($0) }
  let manifest = DatasetManifest(
    source: source, options: options, count: kept, height: options.size, width: options.size, channels: options.channels,
    hasLabels: items.hasLabels, checksum: String(format: "%08x", checksum),
    createdAt: ISO8601DateFormatter().string(from: Date()), skipped: skipped)
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  try encoder.encode(manifest).write(to: tmp.appendingPathComponent("manifest.json"))
  try checkReplaceable(directory)
  try moveIntoPlace(tmp, directory, hasLabels: items.hasLabels)
  return manifest
}

/// `url` with every symbolic link followed, the last one too when it points to nothing yet.
func followingLinks(_ url: URL) throws -> URL {
  var current = url.deletingLastPathComponent().resolvingSymlinksInPath().appendingPathComponent(url.lastPathComponent)
  for _ in 0..<40 {
    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: current.path) else { return current }
    let next = target.hasPrefix("/") ? URL(fileURLWithPath: target) : current.deletingLastPathComponent().appendingPathComponent(target)
    current = next.standardizedFileURL.deletingLastPathComponent().resolvingSymlinksInPath().appendingPathComponent(next.lastPathComponent)
  }
  throw DatasetError("\(url.path) is a chain of more than 40 symbolic links")
}

/// Moves a packed dataset from its staging folder (beside `directory`, on its file system once links
/// are followed) to `directory`. A new folder is renamed into place whole. An existing one (empty, or
/// an earlier prepared dataset: `checkReplaceable`) keeps its identity (`-o .` fills the folder the
/// shell is in): the new files are first moved (or, from another file system, copied) into it under
/// staging names; then the old files are renamed aside, the new ones renamed into place (the manifest
/// last), and only then are the old ones removed. No step deletes the old dataset before the new one
/// is in place, every rename stays within the folder, and a failed one puts the old files back.
func moveIntoPlace(_ tmp: URL, _ directory: URL, hasLabels: Bool) throws {
  let fm = FileManager.default
  func why() -> String { String(cString: strerror(errno)) }
  guard fm.fileExists(atPath: directory.path) else {
    try fm.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
    guard rename(tmp.path, directory.path) == 0 else { throw DatasetError("cannot move \(tmp.path) to \(directory.path): \(why())") }
    return
  }
  let files = ["pixels.u8"] + (hasLabels ? ["labels.i32"] : []) + ["manifest.json"]
  func aside(_ file: String) -> URL { StagingName.url(for: directory.appendingPathComponent(file + ".old")) }
  for file in preparedFiles { removeLeftovers(of: file, in: directory) }
  // 1. The new files inside the folder, under staging names.
  var staged: [(URL, URL)] = []
  var cleanUp = true
  defer { if cleanUp { for (s, _) in staged { unlink(s.path) } } }
  for file in files {
    let source = tmp.appendingPathComponent(file), target = directory.appendingPathComponent(file)
    let staging = StagingName.url(for: target)
    unlink(staging.path)
    if rename(source.path, staging.path) != 0 {
      do { try fm.copyItem(at: source, to: staging) } catch {
        throw DatasetError("cannot copy \(source.path) into \(directory.path): \(error.localizedDescription); the earlier dataset is unchanged")
      }
    }
    staged.append((staging, target))
  }
  // 2. The old files aside (the manifest first, so no reader takes a mix for a dataset).
  var moved: [String] = []
  func restore() {
    for file in moved.reversed() { rename(aside(file).path, directory.appendingPathComponent(file).path) }
  }
  for file in ["manifest.json", "pixels.u8", "labels.i32"] where fm.fileExists(atPath: directory.appendingPathComponent(file).path) {
    guard rename(directory.appendingPathComponent(file).path, aside(file).path) == 0 else {
      let reason = why()
      restore()
      throw DatasetError("cannot set \(directory.appendingPathComponent(file).path) aside: \(reason); the earlier dataset is unchanged")
    }
    moved.append(file)
  }
  // 3. The new files into place, the manifest last; 4. the old ones removed.
  for (i, (staging, target)) in staged.enumerated() {
    guard rename(staging.path, target.path) == 0 else {
      let reason = why()
      for (_, placed) in staged.prefix(i) { unlink(placed.path) }
      restore()
      throw DatasetError("cannot move \(staging.path) to \(target.path): \(reason); the earlier dataset is back in place")
    }
  }
  cleanUp = false
  for file in moved { unlink(aside(file).path) }
}

/// Removes the staging and set-aside copies of `file` in `directory` left by killed processes.
func removeLeftovers(of file: String, in directory: URL) {
  StagingName.removeStale(for: directory.appendingPathComponent(file))
  StagingName.removeStale(for: directory.appendingPathComponent(file + ".old"))
}

/// The files a prepared dataset directory holds; prepare replaces a directory only when it holds
/// nothing else (an earlier prepared dataset), never a folder of the user's.
let preparedFiles: Set<String> = ["manifest.json", "pixels.u8", "labels.i32"]

/// Refuses an output folder that exists and holds anything but an earlier prepared dataset: a folder of
/// notes, the working directory or the source images would otherwise be deleted.
func checkReplaceable(_ directory: URL) throws {
  let fm = FileManager.default
  var isDirectory: ObjCBool = false
  guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) else { return }
  guard isDirectory.boolValue else {
    throw DatasetError("the output \(directory.path) is a file; name a new or empty folder for the prepared dataset")
  }
  // The staging and set-aside copies `moveIntoPlace` makes (`.pixels.u8.tmp-HOST-PID`) are its own.
  let contents = try fm.contentsOfDirectory(atPath: directory.path).filter { name in
    !preparedFiles.contains { name.hasPrefix(".\($0).tmp-") || name.hasPrefix(".\($0).old.tmp-") }
  }
  let foreign = contents.filter { !preparedFiles.contains($0) }.sorted()
  guard foreign.isEmpty, contents.isEmpty || contents.contains("manifest.json") else {
    let shown = (foreign.isEmpty ? contents.sorted() : foreign).prefix(3).joined(separator: ", ")
    throw DatasetError("the output folder \(directory.path) exists and holds files that are not a prepared dataset (\(shown)"
                         + (foreign.count > 3 ? ", …" : "") + "); nothing was changed. Name a new or empty folder: "
                         + "prepare replaces only an earlier prepared dataset")
  }
}
