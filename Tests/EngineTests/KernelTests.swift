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

extension KernelTests {
  func testLayerNorm() throws {
    // Weight and bias gradients are checked too: they are summed across the threads' row chunks.
    for d in [1, 7, 64, 129] {
      try onEngine {
        let keys = try PRNGKey(seed: UInt64(d)).split(5)
        let w = try Random.normal([d], key: keys[0]) + 1
        let b = try Random.normal([d], key: keys[1])
        for shape in [[3, d], [5, 67, d], [1031, d]] {
          let x = try Random.normal(shape, scale: 2, key: keys[2]) + 0.5
          let probe = try Random.normal(shape, key: keys[3])
          let fast = try x.layerNorm(weight: w, bias: b)
          let slow = try x.layerNorm(weight: w, bias: b, fast: false)
          assertClose(try fast.doubles(), try slow.doubles(), tolerance: 2e-5, "layer_norm forward \(shape)")
          let f: (Bool) throws -> [Tensor] = { useFast in
            try grad([x, w, b]) { try ($0[0].layerNorm(weight: $0[1], bias: $0[2], fast: useFast) * probe).sum() }
          }
          let (gf, gs) = (try f(true), try f(false))
          for (i, name) in ["x", "weight", "bias"].enumerated() {
            assertClose(try gf[i].doubles(), try gs[i].doubles(), tolerance: 1e-4, "layer_norm d\(name) \(shape)")
          }
        }
      }
    }
  }
}
