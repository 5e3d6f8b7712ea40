import Engine
import XCTest

/// Runs a test body on the engine thread (MLX's one thread).
func onEngine(_ body: () throws -> Void) throws { try Engine.run(body) }

/// Asserts two float arrays agree within `tolerance` (absolute, plus relative to the magnitude).
func assertClose(_ a: [Double], _ b: [Double], tolerance: Double, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
  XCTAssertEqual(a.count, b.count, "lengths differ \(message)", file: file, line: line)
  for (i, (x, y)) in zip(a, b).enumerated() where Swift.abs(x - y) > tolerance * (1 + Swift.abs(y)) {
    XCTFail("element \(i): \(x) vs \(y) \(message)", file: file, line: line)
    return
  }
}
