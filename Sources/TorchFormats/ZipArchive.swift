// A read-only zip reader for PyTorch files (torch.save and TorchScript archives write *stored*,
// uncompressed entries). The file is untrusted: every offset and length is checked against the
// file's size before use, and entry names that escape the archive are refused.
import Foundation

/// A malformed or hostile input file, with what was wrong.
public struct UntrustedFileError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

public struct ZipArchive {
  public struct Entry: Equatable {
    public var name: String
    public var offset: Int
    public var size: Int
    /// 0 = stored. Compressed entries (TorchScript's code/ files) are listed but not read.
    public var method: Int
  }

  public let data: Data
  public let entries: [String: Entry]
  let source: String
  /// What the archive should be, for messages ("a PyTorch zip archive", "an .npz file (a zip of .npy arrays)").
  let format: String
  /// What to do about a compressed entry, which this reader does not inflate.
  let compressedAdvice: String

  /// Reads the central directory of a zip file (or of bytes in memory) that should be `format`.
  public init(data: Data, source: String = "file", format: String = "a PyTorch zip archive",
              compressedAdvice: String = "PyTorch stores data uncompressed") throws {
    self.data = data
    self.source = source
    self.format = format
    self.compressedAdvice = compressedAdvice
    func fail(_ why: String) -> UntrustedFileError { UntrustedFileError("\(source) is not \(format): \(why)") }
    let n = data.count
    func u16(_ o: Int) throws -> Int {
      guard o >= 0, o + 2 <= n else { throw fail("truncated (offset \(o))") }
      return Int(data[data.startIndex + o]) | Int(data[data.startIndex + o + 1]) << 8
    }
    func u32(_ o: Int) throws -> Int { try u16(o) | u16(o + 2) << 16 }
    func u64(_ o: Int) throws -> Int {
      let lo = try u32(o), hi = try u32(o + 4)
      guard hi < 1 << 20 else { throw fail("a 64-bit size beyond any real file") }
      return lo | hi << 32
    }
    // The end-of-central-directory record: within the last 64 KiB + 22 bytes.
    var eocd = -1
    var o = n - 22
    while o >= max(0, n - 22 - 65_535) {
      if try u32(o) == 0x0605_4b50 { eocd = o; break }
      o -= 1
    }
    guard eocd >= 0 else {
      throw fail(data.starts(with: [0x50, 0x4B, 0x03, 0x04]) ? "no end-of-central-directory record (truncated?)" : "not a zip file at all")
    }
    var count = try u16(eocd + 10)
    var dirOffset = try u32(eocd + 16)
    if (count == 0xFFFF || dirOffset == 0xFFFF_FFFF), eocd >= 20, try u32(eocd - 20) == 0x0706_4b50 {
      let record = try u64(eocd - 12)
      guard try u32(record) == 0x0606_4b50 else { throw fail("bad zip64 record") }
      count = try u64(record + 32)
      dirOffset = try u64(record + 48)
    }
    guard count <= n / 46 else { throw fail("claims \(count) entries, more than the file can hold") }
    var entries: [String: Entry] = [:]
    var p = dirOffset
    for _ in 0..<count {
      guard try u32(p) == 0x0201_4b50 else { throw fail("bad central directory entry at \(p)") }
      let method = try u16(p + 10)
      var compressed = try u32(p + 20), uncompressed = try u32(p + 24)
      let nameLength = try u16(p + 28), extraLength = try u16(p + 30), commentLength = try u16(p + 32)
      var local = try u32(p + 42)
      guard p + 46 + nameLength <= n else { throw fail("truncated entry name") }
      let nameBytes = data.subdata(in: (data.startIndex + p + 46)..<(data.startIndex + p + 46 + nameLength))
      let name = String(decoding: nameBytes, as: UTF8.self)
      // zip64 extra field: the 64-bit sizes and offset, in that order, for the fields that overflowed.
      var e = p + 46 + nameLength
      let extraEnd = e + extraLength
      while e + 4 <= extraEnd {
        let id = try u16(e), size = try u16(e + 2)
        if id == 0x0001 {
          var q = e + 4
          if uncompressed == 0xFFFF_FFFF { uncompressed = try u64(q); q += 8 }
          if compressed == 0xFFFF_FFFF { compressed = try u64(q); q += 8 }
          if local == 0xFFFF_FFFF { local = try u64(q) }
        }
        e += 4 + size
      }
      p = extraEnd + commentLength
      let parts = name.split(separator: "/", omittingEmptySubsequences: false)
      guard !name.hasPrefix("/"), !name.contains("\\"), !parts.contains(".."), !name.contains("\0") else {
        throw fail("entry \(name) points outside the archive")
      }
      let size = method == 0 ? uncompressed : compressed
      guard try u32(local) == 0x0403_4b50 else { throw fail("bad local header of \(name)") }
      let start = local + 30 + (try u16(local + 26)) + (try u16(local + 28))
      guard start >= 0, size >= 0, start + size <= n, method != 0 || compressed == uncompressed else {
        throw fail("entry \(name) claims \(size) bytes at \(start), beyond the file's \(n)")
      }
      entries[name] = Entry(name: name, offset: start, size: size, method: method)
    }
    self.entries = entries
  }

  /// The bytes of an entry.
  public func contents(_ name: String) throws -> Data {
    guard let e = entries[name] else { throw UntrustedFileError("\(source) has no entry \(name)") }
    guard e.method == 0 else {
      throw UntrustedFileError("\(source): entry \(name) is compressed (method \(e.method)), which this reader does not inflate; \(compressedAdvice)")
    }
    return data.subdata(in: (data.startIndex + e.offset)..<(data.startIndex + e.offset + e.size))
  }
}
