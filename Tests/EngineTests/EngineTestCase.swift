import Engine
import XCTest

/// Runs a test body on the engine thread (MLX's one thread).
func onEngine(_ body: () throws -> Void) throws { try Engine.run(body) }

/// Runs a test body on the engine thread once for every CPU code path of our kernels this machine can
/// run (AVX-512, AVX2, generic: Engine.forEachCPUPath), so that a machine with AVX-512 tests all three
/// and one with AVX2 only the last two; the body gets the path's name for its messages.
func onEveryCPUPath(_ body: (String) throws -> Void) throws {
  try Engine.run { try Engine.forEachCPUPath(body) }
}

/// Asserts two float arrays agree within `tolerance` (absolute, plus relative to the magnitude).
func assertClose(_ a: [Double], _ b: [Double], tolerance: Double, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
  XCTAssertEqual(a.count, b.count, "lengths differ \(message)", file: file, line: line)
  for (i, (x, y)) in zip(a, b).enumerated() where Swift.abs(x - y) > tolerance * (1 + Swift.abs(y)) {
    XCTFail("element \(i): \(x) vs \(y) \(message)", file: file, line: line)
    return
  }
}

/// Asserts two results of a sum of products agree within `tolerance` times their typical size (the root
/// mean square of `b`), the scale at which summing in another order rounds: an element that cancels to
/// near zero carries the rounding of the large terms that cancelled.
func assertCloseAtScale(_ a: [Double], _ b: [Double], tolerance: Double, _ message: String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
  XCTAssertEqual(a.count, b.count, "lengths differ \(message)", file: file, line: line)
  let scale = b.isEmpty ? 0 : (b.reduce(0) { $0 + $1 * $1 } / Double(b.count)).squareRoot()
  for (i, (x, y)) in zip(a, b).enumerated() where Swift.abs(x - y) > tolerance * (1 + scale) {
    XCTFail("element \(i): \(x) vs \(y) (scale \(scale)) \(message)", file: file, line: line)
    return
  }
}
