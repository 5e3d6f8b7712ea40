import Foundation
import XCTest
@testable import Training

/// The event-file writer against bytes from TensorBoard's own protobuf classes and CRC
/// (`tensorboard.compat.proto.event_pb2`, `tensorflow_stub.pywrap_tensorflow.masked_crc32c`); that
/// TensorBoard's reader loads what the tool writes is tested in CLITests/TensorBoardCLITests.
final class TensorBoardEventsTests: XCTestCase {
  func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

  func testCRC32CAndItsMaskedForm() {
    XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    let record = tfRecord(Array(Data(hexString: "09000000000000f83f10072a130a110a0a747261696e2f6c6f7373150000803e")!))
    XCTAssertEqual(hex(record), "200000000000000029eda95009000000000000f83f10072a130a110a0a747261696e2f6c6f7373150000803ef4985d1a")
  }

  func testEventsEncodeAsTensorBoardsProtobufDoes() {
    XCTAssertEqual(hex(EventPayload.summary(wallTime: 1.5, step: 7, values: [.scalar(tag: "train/loss", value: 0.25)])),
                   "09000000000000f83f10072a130a110a0a747261696e2f6c6f7373150000803e")
    let image = SummaryValue.image(tag: "g", height: 2, width: 300, colorspace: 3, encoded: Data("abc".utf8))
    XCTAssertEqual(hex(EventPayload.summary(wallTime: 1.5, step: 3, values: [image])),
                   "09000000000000f83f10032a130a110a0167220c080210ac0218032203616263")
    XCTAssertEqual(hex(EventPayload.fileVersion(wallTime: 2)), "0900000000000000401a0d627261696e2e4576656e743a32")
    XCTAssertEqual(hex(EventPayload.sessionStart(wallTime: 2, step: -1)), "09000000000000004010ffffffffffffffffff013a020801")
  }

  func testWriterAppendsWholeRecordsAsTheyCome() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString.prefix(8))")
    defer { try? FileManager.default.removeItem(at: dir) }
    let writer = try EventFileWriter(directory: dir, now: Date(timeIntervalSince1970: 2))
    XCTAssertTrue(writer.url.lastPathComponent.hasPrefix("events.out.tfevents.2."))
    let first = try Data(contentsOf: writer.url)
    XCTAssertEqual(hex(first), hex(tfRecord(EventPayload.fileVersion(wallTime: 2))))
    try writer.write(step: 7, [.scalar(tag: "train/loss", value: 0.25)], wallTime: Date(timeIntervalSince1970: 1.5))
    // On disk at once (no buffer to flush), so a process killed now loses nothing written.
    XCTAssertEqual(hex(try Data(contentsOf: writer.url).dropFirst(first.count)),
                   "200000000000000029eda95009000000000000f83f10072a130a110a0a747261696e2f6c6f7373150000803ef4985d1a")
  }

  func testPNGHeaderGivesTheImageSizeAndColorspace() {
    var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])
    png += Data([0, 0, 1, 2, 0, 0, 0, 34, 8, 2])  // width 258, height 34, 8 bits, RGB
    XCTAssertEqual(pngImageInfo(png).map { [$0.height, $0.width, $0.colorspace] }, [34, 258, 3])
    png[25] = 0
    XCTAssertEqual(pngImageInfo(png)?.colorspace, 1)
    XCTAssertNil(pngImageInfo(Data("GIF89a not a png at all....".utf8)))
  }
}

extension Data {
  init?(hexString: String) {
    var out = Data()
    var chars = hexString.makeIterator()
    while let a = chars.next() {
      guard let b = chars.next(), let byte = UInt8(String([a, b]), radix: 16) else { return nil }
      out.append(byte)
    }
    self.init(out)
  }
}
