import Engine
import XCTest

/// This project's CPU kernels against MLX's own ops, forward and gradient, on random inputs of odd
/// sizes (the kernels split work across threads, so sizes that do not divide evenly matter).
final class KernelTests: XCTestCase {
  func compare(_ name: String, shapes: [[Int]], tolerance: Double,
               fast: @escaping (Tensor) throws -> Tensor, reference: @escaping (Tensor) throws -> Tensor) throws {
    try onEngine {
      for (i, shape) in shapes.enumerated() {
        let keys = try PRNGKey(seed: UInt64(100 + i)).split(2)
        let x = try Random.normal(shape, scale: 3, key: keys[0])
        let probe = try Random.normal(shape, key: keys[1])
        assertClose(try fast(x).doubles(), try reference(x).doubles(), tolerance: tolerance, "\(name) forward \(shape)")
        let gf = try grad([x]) { try (fast($0[0]) * probe).sum() }[0]
        let gr = try grad([x]) { try (reference($0[0]) * probe).sum() }[0]
        assertClose(try gf.doubles(), try gr.doubles(), tolerance: tolerance, "\(name) gradient \(shape)")
      }
    }
  }

  func testGelu() throws {
    try compare("gelu", shapes: [[1], [7, 13], [3, 65, 257], [40_001]], tolerance: 2e-6,
                fast: { try $0.gelu() }, reference: { try $0.gelu(fast: false) })
  }
}
