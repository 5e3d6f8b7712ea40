// The IDX format of (Fashion-)MNIST: a magic number (two zero bytes, a type code, the rank), big-endian
// dimensions, then the data. Debian's `dataset-fashion-mnist` installs the gzip'd files.
import Foundation

/// An IDX array of unsigned bytes.
public struct IDXArray: Equatable {
  public var shape: [Int]
  public var bytes: [UInt8]
}

/// Reads a (gzip'd) IDX file of unsigned bytes, checking its header against its length.
public func readIDX(_ url: URL) throws -> IDXArray {
  try parseIDX(try readGzip(url), source: url.path)
}

/// Reads the (gunzipped) bytes of an IDX file; `source` names it in errors.
public func parseIDX(_ data: [UInt8], source: String) throws -> IDXArray {
  func fail(_ why: String) -> DatasetError { DatasetError("\(source) is not a valid IDX file (\(why))") }
  guard data.count >= 4, data[0] == 0, data[1] == 0 else { throw fail("bad magic number") }
  guard data[2] == 0x08 else { throw fail("element type \(data[2]) is not unsigned byte") }
  let rank = Int(data[3])
  guard rank >= 1, data.count >= 4 + 4 * rank else { throw fail("truncated header") }
  let shape = (0..<rank).map { d in (0..<4).reduce(0) { $0 << 8 | Int(data[4 + 4 * d + $1]) } }
  let available = data.count - 4 - 4 * rank
  // Multiplied only while the product stays within the data, so no claimed shape can overflow.
  var count = 1
  for d in shape {
    guard d == 0 || count <= available / d else { throw fail("shape \(shape) needs more bytes than the file's \(available)") }
    count *= d
  }
  guard available == count else { throw fail("expected \(count) bytes of data, found \(available)") }
  return IDXArray(shape: shape, bytes: Array(data[(4 + 4 * rank)...]))
}
