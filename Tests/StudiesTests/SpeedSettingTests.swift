// The calibration's key is the typed stage setting; its one line (in plans and calibration.json) reads
// back to the same setting, so that rates are looked up by what a stage is, not by how it is printed.
import Foundation
@testable import Studies
import Training
import XCTest

final class SpeedSettingTests: XCTestCase {
  func config(_ edit: (inout TrainConfig) -> Void) -> TrainConfig {
    var c = TrainConfig()
    (c.network.imageSize, c.network.patchSize, c.network.embedDim, c.network.depth, c.batchSize) = (32, 4, 64, 5, 64)
    edit(&c)
    return c
  }

  func testEveryMaskKindReadsBackFromItsLine() throws {
    let settings = [
      config { _ in },
      config { $0.dataset.maskRatio = 0.9 },
      config { ($0.dataset.maskRatio, $0.dataset.mask) = (0.5, .block(4)) },
      config { ($0.dataset.maskRatio, $0.dataset.mask) = (0.9, .crop(nil)) },
      config { ($0.dataset.maskRatio, $0.dataset.mask, $0.compile, $0.precision) = (0.1, .crop(5), false, .bf16) },
    ].map(SpeedSetting.init)
    XCTAssertEqual(Set(settings).count, settings.count)
    for s in settings { XCTAssertEqual(SpeedSetting(line: "\(s)"), s, "\(s)") }
    XCTAssertEqual("\(settings[1])", "32px p4 c3 d64x5 h8 mlp4 batch 64, patch 0.9, fp32 auto")
    XCTAssertEqual("\(settings[3])", "32px p4 c3 d64x5 h8 mlp4 batch 64, crop 0.9 c-1, fp32 auto")
    XCTAssertTrue("\(settings[4])".hasSuffix("crop 0.1 c5, bf16 auto eager"))
    for bad in ["", "32px p4", "32px p4 c3 d64x5 h8 mlp4 batch 64, hexagon 0.9, fp32 auto", "32px p4 c3 d64 h8 mlp4 batch 64, unmasked, fp32 auto",
                "32px p4 c3 d64x5 h8 mlp4 batch 64, unmasked, fp64 auto"] {
      XCTAssertNil(SpeedSetting(line: bad), bad)
    }
  }

  func testACalibrationFileOfDisplayLinesLoadsIntoTypedKeys() throws {
    let line = "32px p4 c3 d64x5 h8 mlp4 batch 64, patch 0.9, fp32 auto"
    let json = "{\"entries\": {\"\(line)\": {\"steps_per_second\": 12.5, \"source\": \"measured\"}}, \"measured_on\": \"m\"}"
    let c = try resultsDecoder.decode(Calibration.self, from: Data(json.utf8))
    XCTAssertEqual(c.entries[SpeedSetting(config { $0.dataset.maskRatio = 0.9 })]?.stepsPerSecond, 12.5)
    // Written back under the same line.
    let again = try resultsDecoder.decode(Calibration.self, from: try resultsEncoder.encode(c))
    XCTAssertEqual(again, c)
    XCTAssertTrue(String(decoding: try resultsEncoder.encode(c), as: UTF8.self).contains(line))
  }

  func testAPlanCalibrationKeyThatIsNoSettingIsAnError() {
    let yaml = TinyPlan.base() + "\ncalibration:\n  steps_per_second:\n    \"the fast one\": 3\n"
    XCTAssertThrowsError(try StudyPlan(yaml: yaml, name: "c")) { e in
      XCTAssertTrue("\(e)".contains("the fast one is not a stage setting"), "\(e)")
    }
  }
}
