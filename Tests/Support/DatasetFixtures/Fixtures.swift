// Test-only: fixtures the dataset tests build for themselves (LMDB exports holding PNG, JPEG and
// WebP values), on the C writers of CDatasetFixtures.
import CDatasetFixtures
import Datasets
import Foundation

/// Writes `records` (key, value) into a new LMDB export in `dir`, as LSUN's are laid out.
public func writeLMDB(_ records: [(String, [UInt8])], to dir: URL) throws {
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  var error = [CChar](repeating: 0, count: 256)
  let keys = records.map { strdup($0.0) }
  defer { keys.forEach { free($0) } }
  let values = records.map { r -> UnsafeMutablePointer<UInt8> in
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, r.1.count))
    p.initialize(from: r.1, count: r.1.count)
    return p
  }
  defer { values.forEach { $0.deallocate() } }
  let rc = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
    values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
      fixture_write_lmdb(dir.path, k.baseAddress, v.baseAddress, records.map { $0.1.count }, Int32(records.count), &error, 256)
    }
  }
  if rc != 0 { throw DatasetError("writing the test LMDB failed: \(String(cString: error))") }
}

/// RGB pixels as WebP bytes through libwebp's encoder.
public func encodeWebP(_ pixels: [UInt8], width: Int, height: Int, lossless: Bool) throws -> [UInt8] {
  var out: UnsafeMutablePointer<UInt8>?
  var size = 0
  guard fixture_encode_webp(pixels, Int32(width), Int32(height), lossless ? 1 : 0, 90, &out, &size) == 0, let out else {
    throw DatasetError("WebP encoding failed")
  }
  defer { fixture_free(out) }
  return Array(UnsafeBufferPointer(start: out, count: size))
}

/// Distinct, non-flat RGB images: image `seed` differs from every other at every pixel.
public func fixtureImage(_ w: Int, _ h: Int, seed: Int) -> [UInt8] {
  (0..<(w * h * 3)).map { (i: Int) -> UInt8 in
    let (channel, x, y) = (i % 3, i / 3 % w, i / (3 * w))
    return UInt8((channel * 80 + x * 9 + y * 5 + seed * 37) % 256)
  }
}
