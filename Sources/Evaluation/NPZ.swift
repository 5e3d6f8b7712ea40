// FID statistics as `.npz` with `mu` and `sigma` (pytorch-fid's format): a zip of stored `.npy`
// arrays, little-endian float64 (float32 is read too).
import Datasets
import Foundation
import TorchFormats

enum NPY {
  /// The bytes of a `.npy` file holding float64 values of `shape`.
  static func encode(_ values: [Double], shape: [Int]) -> Data {
    let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '<f8', 'fortran_order': False, 'shape': \(dims), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
    data.append(contentsOf: Array(header.utf8))
    values.withUnsafeBytes { data.append(contentsOf: $0) }
    return data
  }

  /// Values and shape of a float64 or float32 `.npy`.
  static func decode(_ data: Data, name: String) throws -> (values: [Double], shape: [Int]) {
    func fail(_ why: String) -> UntrustedFileError { UntrustedFileError("\(name) is not a readable .npy array: \(why)") }
    let b = [UInt8](data)
    guard b.count >= 12, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else { throw fail("bad magic") }
    let (headerLength, start) = b[6] == 1 ? (Int(b[8]) | Int(b[9]) << 8, 10) : (Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24, 12)
    guard start + headerLength <= b.count else { throw fail("truncated header") }
    let header = String(decoding: b[start..<(start + headerLength)], as: UTF8.self)
    guard !header.contains("'fortran_order': True") else { throw fail("Fortran order is not supported") }
    let item: Int
    if header.contains("'<f8'") { item = 8 } else if header.contains("'<f4'") { item = 4 } else { throw fail("dtype is not <f8 or <f4") }
    guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else { throw fail("no shape") }
    let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let body = start + headerLength
    // Checked by division so that no claimed shape can overflow.
    var count = 1
    for d in shape {
      guard d >= 0, d == 0 || count <= (b.count - body) / item / d else { throw fail("data length does not match shape \(shape)") }
      count *= d
    }
    guard count * item == b.count - body else { throw fail("data length does not match shape \(shape)") }
    let values: [Double] = b[body...].withUnsafeBytes { raw in
      item == 8 ? Array(raw.bindMemory(to: Double.self)) : raw.bindMemory(to: Float.self).map(Double.init)
    }
    return (values, shape)
  }
}

/// Writes a zip of stored entries.
func writeZip(_ files: [(String, Data)]) -> Data {
  var out = Data(), central = Data()
  func le(_ v: Int, _ n: Int) -> [UInt8] { (0..<n).map { UInt8((v >> (8 * $0)) & 0xFF) } }
  for (name, body) in files {
    let crc = Int(body.withUnsafeBytes { crc32($0) })
    let offset = out.count
    let common = le(20, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0x21, 2) + le(crc, 4) + le(body.count, 4) + le(body.count, 4)
      + le(name.utf8.count, 2) + le(0, 2)
    out.append(contentsOf: le(0x0403_4b50, 4) + common + Array(name.utf8))
    out.append(body)
    central.append(contentsOf: le(0x0201_4b50, 4) + le(20, 2) + common + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
                     + le(offset, 4) + Array(name.utf8))
  }
  let dirOffset = out.count
  out.append(central)
  out.append(contentsOf: le(0x0605_4b50, 4) + le(0, 2) + le(0, 2) + le(files.count, 2) + le(files.count, 2)
               + le(central.count, 4) + le(dirOffset, 4) + le(0, 2))
  return out
}

extension FeatureStatistics {
  /// Reads `mu` and `sigma` from an `.npz` (ours or pytorch-fid's).
  public static func load(npz url: URL) throws -> FeatureStatistics {
    guard let data = try? Data(contentsOf: url) else { throw UntrustedFileError("cannot read \(url.path)") }
    return try read(npz: data, name: url.lastPathComponent)
  }

  /// Reads the bytes of an `.npz` called `name` (for messages).
  public static func read(npz data: Data, name: String) throws -> FeatureStatistics {
    let zip = try ZipArchive(data: data, source: name, format: "an .npz file (a zip of .npy arrays, as numpy.savez writes)",
                             compressedAdvice: "write it with numpy.savez rather than numpy.savez_compressed, e.g. `d = np.load(path); np.savez(path, **d)`")
    let (mu, muShape) = try NPY.decode(try zip.contents("mu.npy"), name: "\(name):mu")
    let (sigma, sigmaShape) = try NPY.decode(try zip.contents("sigma.npy"), name: "\(name):sigma")
    guard muShape.count == 1, sigmaShape == [muShape[0], muShape[0]] else {
      throw UntrustedFileError("\(name): mu \(muShape) and sigma \(sigmaShape) do not fit together")
    }
    var count = 0
    if zip.entries["count.npy"] != nil, let c = try? NPY.decode(try zip.contents("count.npy"), name: "count").values.first,
       c.isFinite, c >= 0, c < 1e12 { count = Int(c) }
    var statistics = FeatureStatistics(mu: mu, sigma: sigma, count: count)
    if zip.entries["resize.npy"] != nil, let r = try? NPY.decode(try zip.contents("resize.npy"), name: "resize").values.first {
      statistics.resize = r == 1 ? .clean : r == 0 ? .ttur : nil
    }
    try statistics.checkCovariance(name: name)
    return statistics
  }

  /// Writes `mu`, `sigma` (and `count`, and `resize`: 0 ttur, 1 clean) as an `.npz`.
  public func save(npz url: URL) throws {
    let d = dimension
    var files = [("mu.npy", NPY.encode(mu, shape: [d])), ("sigma.npy", NPY.encode(sigma, shape: [d, d])),
                 ("count.npy", NPY.encode([Double(count)], shape: [1]))]
    if let resize { files.append(("resize.npy", NPY.encode([resize == .clean ? 1 : 0], shape: [1]))) }
    let data = writeZip(files)
    try data.write(to: url, options: .atomic)
  }
}
