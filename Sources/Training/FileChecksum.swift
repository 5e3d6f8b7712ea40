// SHA-256 digests (FIPS 180-4) of the files a checkpoint holds: recorded when it is written, checked
// before it is read, so that a flipped bit on disk is an error naming the file instead of training
// silently continuing on damaged weights.
import CChecksum
import Foundation

/// The SHA-256 digest of `bytes`, as 64 lowercase hexadecimal digits (what `sha256sum` prints).
public func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
  var state = cchecksum_sha256()
  cchecksum_sha256_init(&state)
  if let base = bytes.baseAddress { cchecksum_sha256_update(&state, base, bytes.count) }
  var digest = [UInt8](repeating: 0, count: 32)
  cchecksum_sha256_final(&state, &digest)
  return digest.map { String(format: "%02x", $0) }.joined()
}

/// The SHA-256 digest of `data`, in hexadecimal.
public func sha256Hex(_ data: Data) -> String {
  data.withUnsafeBytes { sha256Hex($0) }
}

/// The SHA-256 digest of the file at `url`, in hexadecimal; nil when it cannot be read.
public func sha256Hex(fileAt url: URL) -> String? {
  guard let data = try? Data(contentsOf: url, options: .mappedIfSafe) else { return nil }
  return sha256Hex(data)
}
