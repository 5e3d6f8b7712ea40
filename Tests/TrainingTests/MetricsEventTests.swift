// metrics.jsonl rows are typed events: each kind is written as the run has always written it (the
// keys `event`, `step` and its own) and read back, and the rows runs wrote before are read.
import Foundation
import Training
import XCTest

final class MetricsEventTests: XCTestCase {
  func testEveryEventRoundTripsThroughItsRow() throws {
    let events: [MetricsEvent] = [
      .step(step: 10, loss: 0.7459206581115723, lr: 1e-4, gradNorm: 2.5, imagesPerSecond: 120, trainSeconds: 3.25),
      .snapshot(step: 20, path: "snapshots/step-00000020.safetensors"), .sample(step: 20, path: "step-00000020.png"),
      .checkpoint(step: 20), .resumed(step: 20, changed: ["lr": "0.0001 -> 0.0002"]), .diverged(step: 21, loss: 1e9),
    ]
    for e in events {
      let data = try JSONEncoder().encode(e)
      XCTAssertEqual(try JSONDecoder().decode(MetricsEvent.self, from: data), e)
      let row = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      XCTAssertEqual(row["event"] as? String, e.name)
      XCTAssertEqual(row["step"] as? Int, e.step)
    }
    // A non-finite loss is text in the row (JSON has no NaN) and a number again when read.
    let nan = try JSONEncoder().encode(MetricsEvent.diverged(step: 3, loss: .nan))
    XCTAssertTrue(String(decoding: nan, as: UTF8.self).contains("\"loss\":\"nan\""))
    guard case let .diverged(_, loss) = try JSONDecoder().decode(MetricsEvent.self, from: nan) else { return XCTFail() }
    XCTAssertTrue(loss.isNaN)
  }

  func testRowsWrittenBeforeTheTypedEventsAreRead() throws {
    let rows = [
      #"{"event":"step","grad_norm":1.5,"images_per_second":64,"loss":0.5,"lr":0.0002,"step":5,"train_seconds":1.25}"#,
      #"{"event":"snapshot","path":"snapshots\/step-00000010.safetensors","step":10}"#,
      #"{"changed":{"lr":"0.0002 -> 0.0001"},"event":"resumed","step":10}"#,
      #"{"event":"diverged","loss":"inf","step":12}"#,
    ]
    let read = try rows.map { try JSONDecoder().decode(MetricsEvent.self, from: Data($0.utf8)) }
    XCTAssertEqual(read, [.step(step: 5, loss: 0.5, lr: 0.0002, gradNorm: 1.5, imagesPerSecond: 64, trainSeconds: 1.25),
                          .snapshot(step: 10, path: "snapshots/step-00000010.safetensors"),
                          .resumed(step: 10, changed: ["lr": "0.0002 -> 0.0001"]), .diverged(step: 12, loss: .infinity)])
    XCTAssertThrowsError(try JSONDecoder().decode(MetricsEvent.self, from: Data(#"{"event":"party","step":1}"#.utf8)))
  }
}
