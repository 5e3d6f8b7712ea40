// A prepared dataset, memory-mapped: images are byte ranges of pixels.u8, read by any thread.
import Foundation

public final class PackedDataset: @unchecked Sendable {
  public let directory: URL
  public let manifest: DatasetManifest
  public let labels: [Int32]?
  private let pixels: Data

  public var count: Int { manifest.count }
  public var height: Int { manifest.height }
  public var width: Int { manifest.width }
  public var channels: Int { manifest.channels }
  public var imageBytes: Int { height * width * channels }

  /// Opens `directory` (written by `prepareDataset` / `maskdm prepare`), checking sizes against the manifest.
  public init(directory: URL) throws {
    self.directory = directory
    let manifestURL = directory.appendingPathComponent("manifest.json")
    guard let data = FileManager.default.contents(atPath: manifestURL.path) else {
      throw DatasetError("no prepared dataset at \(directory.path) (manifest.json missing); run `maskdm prepare` first")
    }
    do { manifest = try JSONDecoder().decode(DatasetManifest.self, from: data) } catch {
      throw DatasetError("\(manifestURL.path) is damaged (\(error)); prepare the dataset again")
    }
    do {
      pixels = try Data(contentsOf: directory.appendingPathComponent("pixels.u8"), options: .alwaysMapped)
    } catch {
      throw DatasetError("cannot read \(directory.path)/pixels.u8: prepare the dataset again")
    }
    guard pixels.count == manifest.count * manifest.height * manifest.width * manifest.channels else {
      throw DatasetError("\(directory.path)/pixels.u8 has \(pixels.count) bytes, the manifest promises \(manifest.count) images; prepare it again")
    }
    if manifest.hasLabels {
      let raw = try Data(contentsOf: directory.appendingPathComponent("labels.i32"))
      guard raw.count == manifest.count * 4 else { throw DatasetError("\(directory.path)/labels.i32 does not match the manifest") }
      labels = raw.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
    } else {
      labels = nil
    }
  }

  /// Copies image `i` (HWC bytes) into `destination`.
  public func copyImage(_ i: Int, into destination: UnsafeMutableRawBufferPointer) {
    let n = imageBytes
    pixels.withUnsafeBytes { src in
      destination.baseAddress!.copyMemory(from: src.baseAddress! + i * n, byteCount: n)
    }
  }

  /// Image `i` as bytes.
  public func image(_ i: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: imageBytes) { buffer, n in
      copyImage(i, into: UnsafeMutableRawBufferPointer(buffer))
      n = imageBytes
    }
  }

  /// Recomputes the checksum of the pixels and compares it with the manifest's.
  public func verify() throws {
    let crc = pixels.withUnsafeBytes { crc32($0) }
    guard String(format: "%08x", crc) == manifest.checksum else {
      throw DatasetError("\(directory.path): pixels.u8 does not match its checksum; prepare the dataset again")
    }
  }
}
