// The safetensors format (MLX's and Hugging Face's): an 8-byte little-endian header length, a JSON
// header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}`, then the raw
// little-endian data. Written here rather than taken from MLX because MLX's writer refuses float64
// and because files from elsewhere are untrusted: every length and offset is checked before use.
import Foundation

/// Tensors by name plus string metadata, as stored in one `.safetensors` file.
public struct SafetensorsFile {
  public var tensors: [String: Tensor]
  public var metadata: [String: String]
  public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  static let codes: [DType: String] = [
    .bool: "BOOL", .uint8: "U8", .int32: "I32", .int64: "I64", .uint32: "U32",
    .float16: "F16", .bfloat16: "BF16", .float32: "F32", .float64: "F64",
  ]
  /// Headers larger than this are refused (real ones are kilobytes; a hostile one could claim 2^64).
  static let maximumHeaderBytes = 100 << 20

  /// Reads a file, checking the header against the file's real size.
  public static func load(_ url: URL) throws -> SafetensorsFile {
    try Engine.run { try read(url) }
  }

  static func read(_ url: URL) throws -> SafetensorsFile {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw EngineError("no such file: \(url.path)")
    }
    return try parse(try Data(contentsOf: url, options: .mappedIfSafe), name: url.lastPathComponent)
  }

  /// Reads the bytes of a file called `name` (for messages). Call on the engine thread.
  public static func parse(_ data: Data, name: String) throws -> SafetensorsFile {
    func corrupt(_ why: String) -> EngineError {
      EngineError("\(name) is not a valid safetensors file (\(why)); re-create or re-download it")
    }
    // PyTorch files are zip archives (torch.save since 1.6) or bare pickles (before: 0x80, then the
    // protocol 2-5). A safetensors header length can start with those bytes too (a length of 0x..80),
    // so only a file whose header does not open with `{` is taken for PyTorch.
    let opensHeader = data.count > 8 && data[data.startIndex + 8] == UInt8(ascii: "{")
    let pickle = data.count > 1 && data[data.startIndex] == 0x80 && (2...5).contains(data[data.startIndex + 1])
    if !opensHeader, data.starts(with: [0x50, 0x4B, 0x03, 0x04]) || pickle {
      throw EngineError("\(name) is a PyTorch file, not safetensors: convert it with `maskdm convert \(name) -o weights.safetensors`")
    }
    guard data.count >= 8 else { throw corrupt("shorter than its 8-byte header length") }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard headerLength <= UInt64(min(maximumHeaderBytes, data.count - 8)) else {
      throw corrupt("header claims \(headerLength) bytes, the file has \(data.count)")
    }
    let dataStart = 8 + Int(headerLength)
    let header: [String: Any]
    do {
      header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] ?? [:]
    } catch {
      throw corrupt("its header is not JSON")
    }
    let byCode = Dictionary(uniqueKeysWithValues: codes.map { ($1, $0) })
    var file = SafetensorsFile()
    for (key, value) in header {
      guard let entry = value as? [String: Any] else { throw corrupt("entry \(key) is not an object") }
      if key == "__metadata__" {
        for (k, v) in entry { file.metadata[k] = v as? String ?? "\(v)" }
        continue
      }
      guard let code = entry["dtype"] as? String, let dtype = byCode[code] else {
        throw corrupt("tensor \(key) has an unsupported dtype \(entry["dtype"] ?? "none")")
      }
      guard let shape = entry["shape"] as? [Int], shape.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }),
            let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
      else { throw corrupt("tensor \(key) lacks a valid shape or data_offsets") }
      let (count, overflow) = shape.reduce((1, false)) { acc, d in
        let (m, o) = acc.0.multipliedReportingOverflow(by: d)
        return (m, acc.1 || o)
      }
      let begin = offsets[0], end = offsets[1]
      let (bytes, bytesOverflow) = count.multipliedReportingOverflow(by: dtype.size)
      guard !overflow, !bytesOverflow, begin >= 0, end >= begin, end - begin == bytes, end <= data.count - dataStart
      else {
        throw corrupt("tensor \(key): offsets \(begin)..<\(end) do not fit shape \(shape) of \(dtype) in the file")
      }
      file.tensors[key] = try data.withUnsafeBytes { raw in
        try Tensor(bytes: UnsafeRawBufferPointer(rebasing: raw[(dataStart + begin)..<(dataStart + end)]),
                   shape: shape, dtype: dtype)
      }
    }
    return file
  }

  /// The bytes of the file: header then data, tensors in name order.
  public func encoded() throws -> Data {
    try Engine.run { try encode() }
  }

  func encode() throws -> Data {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var blobs: [[UInt8]] = []
    var offset = 0
    for name in tensors.keys.sorted() {
      let t = tensors[name]!
      let bytes = try t.bytes()
      header[name] = ["dtype": Self.codes[t.dtype]!, "shape": t.shape, "data_offsets": [offset, offset + bytes.count]]
      offset += bytes.count
      blobs.append(bytes)
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    // Pad the header with spaces so the data starts 8-byte aligned (as other writers do).
    while (8 + json.count) % 8 != 0 { json.append(0x20) }
    var out = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    for blob in blobs { out.append(contentsOf: blob) }
    return out
  }

  /// Writes the file (in place: callers wanting atomicity write to a temporary name and rename).
  public func save(_ url: URL) throws {
    do {
      try encoded().write(to: url)
    } catch let error as EngineError {
      throw error
    } catch {
      throw EngineError("could not write \(url.path): \(error.localizedDescription)")
    }
  }
}
