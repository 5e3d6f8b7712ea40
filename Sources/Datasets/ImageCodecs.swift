// PNG, JPEG and WebP through libpng, libjpeg-turbo and libwebp (C wrappers in CImageCodecs), and gzip'd files.
import CImageCodecs
import Foundation

/// A problem with a dataset or an image, naming the file and the fix.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// 8-bit pixels, row-major, channels last.
public struct DecodedImage: Equatable, Sendable {
  public var width: Int
  public var height: Int
  public var channels: Int
  public var pixels: [UInt8]
  public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
    (self.width, self.height, self.channels, self.pixels) = (width, height, channels, pixels)
  }
}

private func withErrorBuffer<T>(_ body: (UnsafeMutablePointer<CChar>) -> (Int32, T)) throws -> T {
  var buffer = [CChar](repeating: 0, count: 256)
  let (status, value) = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
  if status != 0 { throw DatasetError(String(cString: buffer)) }
  return value
}

/// The image formats `decodeImage(data:)` recognises by their first bytes.
public enum ImageFormat: String, Sendable {
  case png, jpeg, webp

  /// The format whose signature `data` starts with, or nil.
  public init?(signatureOf data: [UInt8]) {
    if data.count >= 8, data[0] == 0x89, data[1] == 0x50, data[2] == 0x4E, data[3] == 0x47 {
      self = .png
    } else if data.count >= 3, data[0] == 0xFF, data[1] == 0xD8, data[2] == 0xFF {
      self = .jpeg
    } else if data.count >= 12, data[0..<4].elementsEqual("RIFF".utf8), data[8..<12].elementsEqual("WEBP".utf8) {
      self = .webp
    } else {
      return nil
    }
  }
}

/// Decodes PNG, JPEG or WebP (recognised by their signatures, not by a file name: LMDB values have
/// none). Alpha is dropped; gray stays one channel.
public func decodeImage(data: [UInt8]) throws -> DecodedImage {
  var image = cimg_image()
  guard let format = ImageFormat(signatureOf: data) else { throw DatasetError("not a PNG, JPEG or WebP image") }
  try withErrorBuffer { err in
    (data.withUnsafeBufferPointer { bytes -> Int32 in
      switch format {
      case .png: return cimg_decode_png(bytes.baseAddress, bytes.count, &image, err, 256)
      case .jpeg: return cimg_decode_jpeg(bytes.baseAddress, bytes.count, &image, err, 256)
      case .webp: return cimg_decode_webp(bytes.baseAddress, bytes.count, &image, err, 256)
      }
    }, ())
  }
  defer { cimg_free(image.pixels) }
  let count = Int(image.width) * Int(image.height) * Int(image.channels)
  return DecodedImage(width: Int(image.width), height: Int(image.height), channels: Int(image.channels),
                      pixels: Array(UnsafeBufferPointer(start: image.pixels, count: count)))
}

/// Decodes the image file at `url`; errors name the file.
public func decodeImage(at url: URL) throws -> DecodedImage {
  guard let data = FileManager.default.contents(atPath: url.path) else {
    throw DatasetError("cannot read \(url.path)")
  }
  do { return try decodeImage(data: [UInt8](data)) } catch let e as DatasetError {
    throw DatasetError("\(url.path): \(e.message)")
  }
}

private func encoded(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>) -> Int32) throws -> [UInt8] {
  var out: UnsafeMutablePointer<UInt8>? = nil
  var size = 0
  try withErrorBuffer { err in (body(&out, &size, err), ()) }
  defer { cimg_free(out) }
  return Array(UnsafeBufferPointer(start: out, count: size))
}

/// 8-bit gray (1) or RGB (3) pixels as a PNG file's bytes.
public func encodePNG(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
  guard pixels.count == width * height * channels else { throw DatasetError("pixel count does not match \(width)x\(height)x\(channels)") }
  return try encoded { out, size, err in
    pixels.withUnsafeBufferPointer { cimg_encode_png($0.baseAddress, Int32(width), Int32(height), Int32(channels), out, size, err, 256) }
  }
}

/// 8-bit gray or RGB pixels as JPEG bytes.
public func encodeJPEG(pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int = 95) throws -> [UInt8] {
  guard pixels.count == width * height * channels else { throw DatasetError("pixel count does not match \(width)x\(height)x\(channels)") }
  return try encoded { out, size, err in
    pixels.withUnsafeBufferPointer {
      cimg_encode_jpeg($0.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(quality), out, size, err, 256)
    }
  }
}

/// Writes pixels as a PNG file.
public func writePNG(pixels: [UInt8], width: Int, height: Int, channels: Int, to url: URL) throws {
  try Data(encodePNG(pixels: pixels, width: width, height: height, channels: channels)).write(to: url, options: .atomic)
}

/// The whole content of a gzip'd (or plain) file.
public func readGzip(_ url: URL) throws -> [UInt8] {
  guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError("no such file: \(url.path)") }
  return try encoded { out, size, err in cimg_read_gzip(url.path, out, size, err, 256) }
}

/// CRC-32 of bytes (zlib's).
public func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
  cimg_crc32(crc, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
}
