// PyTorch files (`torch.save` zips and TorchScript archives) read as data: the restricted unpickler
// builds the object tree, and tensors are cut out of the archive's storage entries with every bound
// checked. Produces tensors by dotted name (`net.layers.mixed_4.tower.conv_1.weight`, or the keys of a
// saved state dict).
import Engine
import Foundation

/// The content of a PyTorch file: its root object and its tensors by dotted path.
public struct TorchFile {
  public let root: PickleValue
  public let tensors: [String: Tensor]

  public init(contentsOf url: URL) throws {
    guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
      throw UntrustedFileError("cannot read \(url.path)")
    }
    try self.init(data: data, source: url.lastPathComponent)
  }

  public init(data: Data, source: String) throws {
    // torch.save wrote a bare pickle (protocol 2, magic number first) before PyTorch 1.6.
    if data.starts(with: [0x80]) {
      throw UntrustedFileError("\(source) is a PyTorch file in the legacy format (torch.save before PyTorch 1.6, _use_new_zipfile_serialization=False), which this reader does not read: load it in PyTorch and save it again with torch.save(obj, path)")
    }
    let archive = try ZipArchive(data: data, source: source)
    guard let pkl = archive.entries.keys.filter({ $0.hasSuffix("/data.pkl") || $0 == "data.pkl" }).min(by: { $0.count < $1.count }) else {
      throw UntrustedFileError("\(source) has no data.pkl: not a PyTorch file")
    }
    let prefix = String(pkl.dropLast("data.pkl".count))
    let parsed = try Unpickler.load(try archive.contents(pkl), source: source)
    var out: [String: Tensor] = [:]
    var cache: [String: Data] = [:]
    func materialise(_ r: TensorRecord) throws -> Tensor {
      let sizes: [String: Int] = ["float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "uint8": 1, "bool": 1]
      let dtypes: [String: DType] = ["float32": .float32, "float64": .float64, "float16": .float16, "bfloat16": .bfloat16,
                                     "int64": .int64, "int32": .int32, "uint8": .uint8, "bool": .bool]
      let item = sizes[r.dtype]!
      let blob: Data
      if let b = cache[r.storageKey] { blob = b } else {
        blob = try archive.contents("\(prefix)data/\(r.storageKey)")
        cache[r.storageKey] = blob
      }
      guard blob.count >= r.storageCount * item else {
        throw UntrustedFileError("\(source): storage \(r.storageKey) holds \(blob.count) bytes, the pickle claims \(r.storageCount * item)")
      }
      var count = 1
      for d in r.shape {
        let (m, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow, m <= 1 << 34 else { throw UntrustedFileError("\(source): a tensor of shape \(r.shape) is beyond any real file") }
        count = m
      }
      // Row-major views (all of a saved state dict) are one range of the storage: copy it whole, since
      // the element-wise walk below costs seconds on a full training checkpoint.
      var rowMajor = [Int](repeating: 1, count: r.shape.count)
      for d in stride(from: r.shape.count - 2, through: 0, by: -1) { rowMajor[d] = rowMajor[d + 1] * r.shape[d + 1] }
      if count > 0, zip(zip(r.shape, r.strides), rowMajor).allSatisfy({ $0.0 == 1 || $0.1 == $1 }) {
        let start = blob.startIndex + r.offset * item
        return try blob[start..<(start + count * item)].withUnsafeBytes { try Tensor(bytes: $0, shape: r.shape, dtype: dtypes[r.dtype]!) }
      }
      // Copy the strided view into a contiguous buffer.
      var bytes = [UInt8](repeating: 0, count: count * item)
      blob.withUnsafeBytes { src in
        bytes.withUnsafeMutableBytes { dst in
          var index = [Int](repeating: 0, count: r.shape.count)
          for i in 0..<count {
            let element = r.offset + zip(index, r.strides).reduce(0) { $0 + $1.0 * $1.1 }
            dst.baseAddress!.advanced(by: i * item).copyMemory(from: src.baseAddress!.advanced(by: element * item), byteCount: item)
            var d = r.shape.count - 1
            while d >= 0 {
              index[d] += 1
              if index[d] < r.shape[d] { break }
              index[d] = 0
              d -= 1
            }
          }
        }
      }
      return try bytes.withUnsafeBytes { try Tensor(bytes: $0, shape: r.shape, dtype: dtypes[r.dtype]!) }
    }
    func walk(_ v: PickleValue, _ path: String, depth: Int) throws {
      guard depth < 64 else { throw UntrustedFileError("\(source): objects nested too deeply") }
      func join(_ k: String) -> String { path.isEmpty ? k : "\(path).\(k)" }
      switch v {
      case let .tensor(r): out[path] = try materialise(r)
      case let .object(o): try walk(o.state, path, depth: depth + 1)
      case let .dict(d):
        for (k, value) in zip(d.keys, d.values) {
          if case let .string(name) = k { try walk(value, join(name), depth: depth + 1) }
        }
      default: break
      }
    }
    try Engine.run { try walk(parsed, "", depth: 0) }
    root = parsed
    tensors = out
  }
}
