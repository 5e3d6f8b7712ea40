import Engine
@testable import Evaluation
import Foundation
import XCTest

/// FID's `clean` resize against clean-fid's own resizer (`make_resizer("PIL", False, "bicubic",
/// (299, 299))`, Pillow 11.3.0) on real images: every `resize_clean_*.safetensors`, made by
/// scripts/make_clean_resize_golden.py. Within 1e-4 on the [0, 1] scale, as the TTUR resize's golden.
final class CleanResizeGoldenTests: XCTestCase {
  func testCleanResizeMatchesCleanFIDOnTheGoldenImages() throws {
    let files = goldenFiles(prefix: "resize_clean_")
    XCTAssertFalse(files.isEmpty, "no resize_clean_*.safetensors golden files found")
    for url in files {
      try Engine.run {
        let golden = try SafetensorsFile.load(url).tensors
        let rows = try XCTUnwrap(golden["rows"]).toArray(Int32.self).map(Int.init)
        let names = golden.keys.filter { $0.hasPrefix("in.") }.map { String($0.dropFirst(3)) }.sorted()
        XCTAssertEqual(names.count, 3, url.lastPathComponent)
        for name in names {
          let images = try XCTUnwrap(golden["in.\(name)"]), expected = try XCTUnwrap(golden["out.\(name)"]).floats()
          let (n, channels) = (images.shape[0], images.shape[3])
          let resized = try InceptionFeatureExtractor.resize(images, mode: .clean).floats()  // (N, 299, 299, 3)
          var worst: Float = 0, ttur: Float = 0
          let tturResized = try InceptionFeatureExtractor.resize(images, mode: .ttur).floats()
          for i in 0..<n {
            for (r, y) in rows.enumerated() {
              for x in 0..<299 {
                for c in 0..<channels {
                  let want = expected[((i * rows.count + r) * 299 + x) * channels + c]
                  let at = ((i * 299 + y) * 299 + x) * 3 + c
                  worst = max(worst, abs(resized[at] - want) / 255)
                  ttur = max(ttur, abs(tturResized[at] - want) / 255)
                  // A grey image reaches the network as three equal channels.
                  if channels == 1 { XCTAssertEqual(resized[at + 1], resized[at]); XCTAssertEqual(resized[at + 2], resized[at]) }
                }
              }
            }
          }
          print("golden \(url.lastPathComponent) \(name): clean max abs error \(worst) (the TTUR resize differs by \(ttur))")
          XCTAssertLessThanOrEqual(worst, 1e-4, "\(name) in \(url.lastPathComponent)")
          XCTAssertGreaterThan(ttur, 1e-2, "the golden case tells the two resizes apart (\(name))")
        }
      }
    }
  }

  /// Pillow's taps: each row sums to 1; shrinking widens the kernel (antialiasing), enlarging does not.
  func testBicubicMatrixRowsAreNormalisedAndWidenWhenShrinking() {
    for (input, output) in [(28, 299), (448, 299), (299, 299)] {
      let m = pilBicubicResizeMatrix(from: input, to: output)
      for i in 0..<output {
        let row = m[(i * input)..<((i + 1) * input)]
        XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
      }
      let taps = m[0..<input].filter { $0 != 0 }.count + 0
      let middle = m[(output / 2 * input)..<((output / 2 + 1) * input)].filter { $0 != 0 }.count
      XCTAssertLessThanOrEqual(taps, middle)
      XCTAssertEqual(middle, input > output ? 6 : input == output ? 1 : 4, "\(input) -> \(output)")
    }
  }
}
