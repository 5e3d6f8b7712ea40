import Datasets
import Foundation
import XCTest

/// Images whose headers lie: sizes that would cost gigabytes, files cut short.
final class UntrustedImageTests: XCTestCase {
  func pixels(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(($0 * 37) % 251) } }

  /// Rewrites a PNG's IHDR size (and its CRC): a small file that claims a huge image.
  func claiming(_ png: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
    var b = png
    for (i, v) in [width, height].enumerated() {
      for k in 0..<4 { b[16 + 4 * i + k] = UInt8((v >> (8 * (3 - UInt32(k)))) & 0xFF) }
    }
    let crc = b[12..<29].withUnsafeBytes { crc32($0) }
    for k in 0..<4 { b[29 + k] = UInt8((crc >> (8 * (3 - UInt32(k)))) & 0xFF) }
    return b
  }

  /// 30000 x 30000 was accepted (1.8 GB resident) from an 875 KB file: PNG had a per-side cap only.
  func testAPNGOfTooManyPixelsIsRefusedFromItsHeader() throws {
    let png = try encodePNG(pixels: pixels(8 * 8 * 3), width: 8, height: 8, channels: 3)
    XCTAssertThrowsError(try decodeImage(data: claiming(png, width: 30000, height: 30000))) {
      XCTAssertTrue("\($0)".contains("a 30000x30000 image, more than the 67108864 pixels (8192 x 8192)"), "\($0)")
    }
    // Within the cap, the same lie fails on the missing data instead (no cap message).
    XCTAssertThrowsError(try decodeImage(data: claiming(png, width: 4096, height: 4096))) {
      XCTAssertFalse("\($0)".contains("pixels (8192 x 8192)"), "\($0)")
    }
  }

  func testAJPEGOfTooManyPixelsIsRefusedFromItsHeader() throws {
    var jpeg = try encodeJPEG(pixels: pixels(16 * 16 * 3), width: 16, height: 16, channels: 3)
    // SOF0: FF C0, length, precision, then height and width (big-endian).
    let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
    for (k, v) in [UInt8(0x75), 0x30, 0x75, 0x30].enumerated() { jpeg[sof + 5 + k] = v }  // 30000 x 30000
    XCTAssertThrowsError(try decodeImage(data: jpeg)) {
      XCTAssertTrue("\($0)".contains("a 30000x30000 image, more than the 67108864 pixels"), "\($0)")
    }
  }

  /// libjpeg decodes a truncated file with its missing rows gray and only a warning; that image was
  /// packed. Now it is an error naming the file.
  func testATruncatedJPEGIsRefusedNamingTheFile() throws {
    let jpeg = try encodeJPEG(pixels: pixels(64 * 64 * 3), width: 64, height: 64, channels: 3)
    XCTAssertNoThrow(try decodeImage(data: jpeg))
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(UUID().uuidString.prefix(8)).jpg")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(jpeg.prefix(jpeg.count / 2)).write(to: file)
    XCTAssertThrowsError(try decodeImage(at: file)) {
      XCTAssertTrue("\($0)".contains(file.path), "\($0)")
      XCTAssertTrue("\($0)".contains("Premature end of JPEG file (the file is truncated or damaged)"), "\($0)")
    }
  }

  /// A claimed shape whose product overflows is refused, not a trap.
  func testIDXShapesThatOverflowAreRefused() {
    let header: [UInt8] = [0, 0, 8, 3] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    XCTAssertThrowsError(try parseIDX(header + [1, 2, 3], source: "huge-idx")) {
      XCTAssertTrue("\($0)".contains("huge-idx is not a valid IDX file"), "\($0)")
    }
    XCTAssertEqual(try parseIDX([0, 0, 8, 1, 0, 0, 0, 2, 7, 9], source: "ok").bytes, [7, 9])
  }
}
