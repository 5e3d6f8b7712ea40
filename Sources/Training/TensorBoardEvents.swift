// TensorBoard's event files, written without TensorFlow: a TFRecord stream (each record: its length
// as a little-endian uint64, the masked CRC32C of those 8 bytes, the payload, the payload's masked
// CRC32C) whose payloads are `Event` protocol buffers (tensorflow/core/util/event.proto,
// tensorflow/core/framework/summary.proto). Only the few fields a training log needs are encoded,
// by hand: Event{wall_time 1, step 2, file_version 3, summary 5, session_log 7},
// Summary{value 1}, Summary.Value{tag 1, simple_value 2, image 4},
// Summary.Image{height 1, width 2, colorspace 3, encoded_image_string 4}, SessionLog{status 1}.
// Each record is written with one write(2) as it comes, so a process killed at any moment leaves every
// earlier record whole; a torn last record is what TensorBoard's reader skips ("truncated record").
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it.
public enum CRC32C {
  static let table: [UInt32] = (0..<256).map { i -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    return c
  }

  public static func checksum<D: Sequence>(_ bytes: D) -> UInt32 where D.Element == UInt8 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
  }

  /// TFRecord's masked form: rotated right by 15 bits plus a constant, so a CRC of CRCs stays strong.
  public static func masked<D: Sequence>(_ bytes: D) -> UInt32 where D.Element == UInt8 {
    let c = checksum(bytes)
    return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
  }
}

/// A protocol-buffer message under construction (proto3 wire format; fields in the order added).
struct ProtoMessage {
  private(set) var bytes: [UInt8] = []

  private mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7F) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }
  private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

  /// int32/int64/enum (a negative value as its 64-bit two's complement, as protobuf does).
  mutating func int(_ field: Int, _ value: Int64) {
    key(field, 0)
    varint(UInt64(bitPattern: value))
  }
  mutating func double(_ field: Int, _ value: Double) {
    key(field, 1)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
  }
  mutating func float(_ field: Int, _ value: Float) {
    key(field, 5)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
  }
  mutating func bytes<D: Collection>(_ field: Int, _ value: D) where D.Element == UInt8 {
    key(field, 2)
    varint(UInt64(value.count))
    bytes += value
  }
  mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }
  mutating func message(_ field: Int, _ value: ProtoMessage) { bytes(field, value.bytes) }
}

/// One summary value of an event: a scalar or an encoded image.
public enum SummaryValue: Equatable, Sendable {
  case scalar(tag: String, value: Float)
  /// `encoded` is a PNG (or JPEG) file's bytes; colorspace 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
  case image(tag: String, height: Int, width: Int, colorspace: Int, encoded: Data)

  var proto: ProtoMessage {
    var v = ProtoMessage()
    switch self {
    case let .scalar(tag, value):
      v.string(1, tag)
      v.float(2, value)
    case let .image(tag, height, width, colorspace, encoded):
      v.string(1, tag)
      var image = ProtoMessage()
      image.int(1, Int64(height))
      image.int(2, Int64(width))
      image.int(3, Int64(colorspace))
      image.bytes(4, encoded)
      v.message(4, image)
    }
    return v
  }
}

/// The `Event` payloads this writer emits.
enum EventPayload {
  /// `Event{wall_time, file_version: "brain.Event:2"}`: the first record of every file.
  static func fileVersion(wallTime: Double) -> [UInt8] {
    var e = ProtoMessage()
    e.double(1, wallTime)
    e.string(3, "brain.Event:2")
    return e.bytes
  }

  static func summary(wallTime: Double, step: Int, values: [SummaryValue]) -> [UInt8] {
    var summary = ProtoMessage()
    for v in values { summary.message(1, v.proto) }
    var e = ProtoMessage()
    e.double(1, wallTime)
    e.int(2, Int64(step))
    e.message(5, summary)
    return e.bytes
  }

  /// `SessionLog{status: START}` at `step`: TensorBoard drops what an earlier process logged at this
  /// step and after (the steps a resumed run trains again).
  static func sessionStart(wallTime: Double, step: Int) -> [UInt8] {
    var log = ProtoMessage()
    log.int(1, 1)
    var e = ProtoMessage()
    e.double(1, wallTime)
    e.int(2, Int64(step))
    e.message(7, log)
    return e.bytes
  }
}

/// One TFRecord: length, its masked CRC, payload, the payload's masked CRC.
func tfRecord(_ payload: [UInt8]) -> Data {
  var out = Data(capacity: payload.count + 16)
  let length = withUnsafeBytes(of: UInt64(payload.count).littleEndian) { Array($0) }
  out.append(contentsOf: length)
  withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { out.append(contentsOf: $0) }
  out.append(contentsOf: payload)
  withUnsafeBytes(of: CRC32C.masked(payload).littleEndian) { out.append(contentsOf: $0) }
  return out
}

/// Appends events to one new file `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in a directory.
public final class EventFileWriter {
  public let url: URL
  private let fd: Int32
  private static var counter = 0
  private static let lock = NSLock()

  /// Creates the directory and the file, and writes the file-version record.
  public init(directory: URL, now: Date = Date()) throws {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw FileSystemError("cannot create the TensorBoard directory \(directory.path): \(error.localizedDescription)")
    }
    Self.lock.lock()
    Self.counter += 1
    let n = Self.counter
    Self.lock.unlock()
    let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
    url = directory.appendingPathComponent("events.out.tfevents.\(Int(now.timeIntervalSince1970)).\(host).\(getpid()).\(n)")
    fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileSystemError("cannot write \(url.path): \(String(cString: strerror(errno)))") }
    try append(EventPayload.fileVersion(wallTime: now.timeIntervalSince1970))
  }

  deinit { close(fd) }

  /// Scalars and images of one step.
  public func write(step: Int, _ values: [SummaryValue], wallTime: Date = Date()) throws {
    guard !values.isEmpty else { return }
    try append(EventPayload.summary(wallTime: wallTime.timeIntervalSince1970, step: step, values: values))
  }

  /// Marks a restart at `step` (TensorBoard forgets earlier events at this step and later).
  public func restart(at step: Int, wallTime: Date = Date()) throws {
    try append(EventPayload.sessionStart(wallTime: wallTime.timeIntervalSince1970, step: step))
  }

  /// One record, in one write(2) (retried on a partial write), so that it reaches the file as it is logged.
  private func append(_ payload: [UInt8]) throws {
    let record = tfRecord(payload)
    var offset = 0
    try record.withUnsafeBytes { raw in
      while offset < raw.count {
        let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          throw FileSystemError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        offset += n
      }
    }
  }
}

/// Writes a whole event file at once (replacing what was there): for logs rebuilt from a record,
/// such as a study's per-variant runs.
public func writeEventFile(_ events: [(step: Int, values: [SummaryValue])], to url: URL, wallTime: Date = Date()) throws {
  var data = tfRecord(EventPayload.fileVersion(wallTime: wallTime.timeIntervalSince1970))
  for e in events where !e.values.isEmpty {
    data += tfRecord(EventPayload.summary(wallTime: wallTime.timeIntervalSince1970, step: e.step, values: e.values))
  }
  try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
  try writeAtomically(data, to: url)
}

/// The height, width and TensorBoard colorspace of a PNG file (from its IHDR chunk); nil for another file.
public func pngImageInfo(_ data: Data) -> (height: Int, width: Int, colorspace: Int)? {
  let b = [UInt8](data.prefix(26))
  guard b.count == 26, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], b[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
  func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
  let colorspace: Int
  switch b[25] {
  case 0: colorspace = 1
  case 4: colorspace = 2
  case 2, 3: colorspace = 3
  case 6: colorspace = 4
  default: return nil
  }
  return (be32(20), be32(16), colorspace)
}
