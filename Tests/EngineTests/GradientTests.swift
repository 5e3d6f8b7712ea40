import Engine
import XCTest

/// Every differentiable op the model uses, against central finite differences in float64.
///
/// MLX's CPU backend evaluates float64 `exp`, `sin`, `cos` and `erf` (and so GELU, sigmoid, softmax)
/// with float32-accurate approximations (measured: errors of 1e-8 to 2e-7 against libm), so for those
/// the difference step is 1e-3 and the tolerance 1e-3: forward noise is then about 1e-4 relative,
/// while a wrong derivative is off by order one.
final class GradientTests: XCTestCase {
  /// Compares MLX's gradient of sum(f(x) * r) with (F(x+h) - F(x-h)) / 2h, element by element.
  func checkGradient(_ name: String, shape: [Int], seed: UInt64 = 1, transcendental: Bool = false,
                     _ f: @escaping (Tensor) throws -> Tensor) throws {
    let tolerance = transcendental ? 1e-3 : 1e-6
    try onEngine {
      let keys = try PRNGKey(seed: seed).split(2)
      let x = try Random.normal(shape, dtype: .float64, key: keys[0])
      let probe = try Random.normal(try f(x).shape, dtype: .float64, key: keys[1])
      let scalar: (Tensor) throws -> Tensor = { try (f($0) * probe).sum() }
      let analytic = try grad([x]) { try scalar($0[0]) }[0].doubles()
      var values = try x.doubles()
      let h = transcendental ? 1e-3 : 1e-6
      for i in values.indices {
        let v = values[i]
        values[i] = v + h
        let up = try scalar(Tensor(values, shape: shape)).item()
        values[i] = v - h
        let down = try scalar(Tensor(values, shape: shape)).item()
        values[i] = v
        let numeric = (up - down) / (2 * h)
        XCTAssertEqual(analytic[i], numeric, accuracy: tolerance * (1 + Swift.abs(numeric)), "\(name) [\(i)]")
      }
    }
  }

  func testElementwise() throws {
    try checkGradient("exp", shape: [5], transcendental: true) { try $0.exp() }
    try checkGradient("tanh", shape: [5], transcendental: true) { try $0.tanh() }
    try checkGradient("erf", shape: [5], transcendental: true) { try $0.erf() }
    try checkGradient("gelu", shape: [7], transcendental: true) { try $0.gelu() }
    try checkGradient("sigmoid", shape: [5], transcendental: true) { try $0.sigmoid() }
    try checkGradient("log(x^2+1)", shape: [5]) { try ($0.square() + 1).log() }
    try checkGradient("sqrt(x^2+1)", shape: [5]) { try ($0.square() + 1).sqrt() }
    try checkGradient("rsqrt(x^2+1)", shape: [5]) { try ($0.square() + 1).rsqrt() }
    try checkGradient("x*x/(x^2+2)", shape: [5]) { try $0 * $0 / ($0.square() + 2) }
    try checkGradient("sin,cos", shape: [5], transcendental: true) { try $0.sin() + $0.cos() }
  }

  func testReductionsAndNormalisation() throws {
    try checkGradient("sum", shape: [3, 4]) { try $0.sum(axes: [1]) }
    try checkGradient("mean", shape: [3, 4]) { try $0.mean(axes: [0]) }
    try checkGradient("softmax", shape: [2, 5], transcendental: true) { try $0.softmax(axes: [-1]) }
    try checkGradient("logsumexp", shape: [2, 5], transcendental: true) { try $0.logsumexp(axes: [1]) }
    try checkGradient("layernorm", shape: [3, 6], transcendental: true) { x in
      let w = try Tensor([1, 2, 3, 4, 5, 6] as [Double])
      let b = try Tensor([0, 1, 0, 1, 0, 1] as [Double])
      return try x.layerNorm(weight: w, bias: b, eps: 1e-5)
    }
  }

  func testLinearAlgebraAndShapes() throws {
    let w: [Double] = (0..<12).map { Double($0) / 7 - 0.8 }
    try checkGradient("matmul", shape: [2, 3]) { x in try x.matmul(Tensor(w, shape: [3, 4])) }
    try checkGradient("addmm", shape: [2, 3]) { x in
      try Tensor.addmm(Tensor.ones([2, 4], dtype: .float64), x, Tensor(w, shape: [3, 4]), alpha: 0.5, beta: 2)
    }
    try checkGradient("reshape+transpose", shape: [2, 6]) { try $0.reshaped([3, 4]).transposed().square() }
    try checkGradient("slice+concat", shape: [4, 3]) { x in
      try Tensor.concatenate([x.slice(axis: 0, 2..<4), x.slice(axis: 0, 0..<1).square()], axis: 0)
    }
    try checkGradient("take", shape: [5, 2]) { x in try x.take(Tensor([4, 0, 4] as [Int32]), axis: 0) }
    try checkGradient("take_along_axis", shape: [2, 5]) { x in
      try x.takeAlongAxis(Tensor([4, 1, 0, 0, 2, 3] as [Int32], shape: [2, 3]), axis: 1)
    }
    try checkGradient("broadcast+where", shape: [3], transcendental: true) { x in
      let c = try Tensor([true, false, true] as [Bool])
      return try Tensor.where(c, x.broadcast(to: [2, 3]), x.broadcast(to: [2, 3]).square())
    }
    try checkGradient("attention", shape: [1, 2, 3, 4], transcendental: true) { q in
      // softmax(q kᵀ / 2) v spelled out with ops (MLX's fused kernel is float32-only on CPU).
      let k = try Tensor((0..<24).map { Double($0 % 5) / 5 }, shape: [1, 2, 3, 4])
      let v = try Tensor((0..<24).map { Double($0 % 7) / 7 }, shape: [1, 2, 3, 4])
      return try (q.matmul(k.swappedLastAxes()) * 0.5).softmax(axes: [-1]).matmul(v)
    }
  }

  func testFastOpsMatchComposedOps() throws {
    try onEngine {
      // The fused float32 kernels against the same math spelled out with plain ops.
      let keys = try PRNGKey(seed: 3).split(4)
      let q = try Random.normal([2, 3, 5, 8], key: keys[0])
      let k = try Random.normal([2, 3, 5, 8], key: keys[1])
      let v = try Random.normal([2, 3, 5, 8], key: keys[2])
      let fused = try Tensor.scaledDotProductAttention(queries: q, keys: k, values: v, scale: 0.3)
      let plain = try (q.matmul(k.swappedLastAxes()) * 0.3).softmax(axes: [-1]).matmul(v)
      assertClose(try fused.doubles(), try plain.doubles(), tolerance: 1e-5)
      let x = try Random.normal([4, 16], key: keys[3])
      let mean = try x.mean(axes: [-1], keepDims: true)
      let centred = try x - mean
      let composed = try centred * (centred.square().mean(axes: [-1], keepDims: true) + 1e-5).rsqrt()
      assertClose(try x.layerNorm(weight: nil, bias: nil).doubles(), try composed.doubles(), tolerance: 1e-5)
    }
  }
}
