import Engine
import XCTest

/// Ops against values computed by hand.
final class OpsTests: XCTestCase {
  func testElementwiseAndOperators() throws {
    try onEngine {
      let a = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
      let b = try Tensor([10, 20, 30, 40] as [Float], shape: [2, 2])
      XCTAssertEqual(try (a + b).floats(), [11, 22, 33, 44])
      XCTAssertEqual(try (b - a).floats(), [9, 18, 27, 36])
      XCTAssertEqual(try (a * b).floats(), [10, 40, 90, 160])
      XCTAssertEqual(try (b / a).floats(), [10, 10, 10, 10])
      XCTAssertEqual(try (a * 2 + 1).floats(), [3, 5, 7, 9])
      XCTAssertEqual(try (-a).floats(), [-1, -2, -3, -4])
      XCTAssertEqual(try a.square().floats(), [1, 4, 9, 16])
      XCTAssertEqual(try a.matmul(b).floats(), [70, 100, 150, 220])
      XCTAssertEqual(try a.clip(2, 3).floats(), [2, 2, 3, 3])
      XCTAssertEqual(try Tensor.where(a.greater(Tensor.scalar(2)), a, b).floats(), [10, 20, 3, 4])
      assertClose(try a.exp().doubles(), [1, 2, 3, 4].map { Foundation.exp($0) }, tolerance: 1e-6)
      assertClose(try a.log().doubles(), [1, 2, 3, 4].map { Foundation.log($0) }, tolerance: 1e-6)
      assertClose(try (a / 4).erf().doubles(), [0.25, 0.5, 0.75, 1].map { Foundation.erf($0) }, tolerance: 1e-6)
      // Exact GELU: x * Φ(x).
      let g = try Tensor([-1, 0, 1.5] as [Float]).gelu().doubles()
      assertClose(g, [-1, 0, 1.5].map { $0 * 0.5 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }, tolerance: 1e-6)
    }
  }

  func testReductionsSoftmaxAndNorms() throws {
    try onEngine {
      let a = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
      XCTAssertEqual(try a.sum().item(), 21)
      XCTAssertEqual(try a.sum(axes: [0]).floats(), [5, 7, 9])
      XCTAssertEqual(try a.mean(axes: [1]).floats(), [2, 5])
      XCTAssertEqual(try a.max(axes: [1]).floats(), [3, 6])
      XCTAssertEqual(try a.argmax(axis: 1).toArray(Int32.self), [2, 2])
      XCTAssertEqual(try a.variance(axes: [1], ddof: 1).floats(), [1, 1])
      let s = try a.softmax(axes: [1]).doubles()
      let e = [1.0, 2, 3].map { Foundation.exp($0) }
      assertClose(Array(s[0..<3]), e.map { $0 / e.reduce(0, +) }, tolerance: 1e-6)
      assertClose([try a.logsumexp().item()], [Foundation.log([1.0, 2, 3, 4, 5, 6].map { Foundation.exp($0) }.reduce(0, +))],
                  tolerance: 1e-6)
      // LayerNorm of [1, 2, 3]: mean 2, var 2/3.
      let ln = try a.layerNorm(weight: nil, bias: nil, eps: 0).doubles()
      let z = 1 / (2.0 / 3).squareRoot()
      assertClose(Array(ln[0..<3]), [-z, 0, z], tolerance: 1e-5)
    }
  }

  func testShapesAndIndexing() throws {
    try onEngine {
      let a = try Tensor.arange(12, dtype: .float32).reshaped([3, 4])
      XCTAssertEqual(a.shape, [3, 4])
      XCTAssertEqual(try a.transposed().floats(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
      let laidOut = try a.transposed().rowMajor()
      XCTAssertEqual(laidOut.shape, [4, 3])
      XCTAssertEqual(try laidOut.floats(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
      XCTAssertEqual(try a.slice(axis: 1, 1..<3).floats(), [1, 2, 5, 6, 9, 10])
      XCTAssertEqual(try a.slice(start: [0, 0], stop: [3, 4], strides: [2, 3]).floats(), [0, 3, 8, 11])
      XCTAssertEqual(try Tensor.concatenate([a.slice(axis: 0, 0..<1), a.slice(axis: 0, 2..<3)]).floats(),
                     [0, 1, 2, 3, 8, 9, 10, 11])
      XCTAssertEqual(try Tensor.stack([a.slice(axis: 0, 0..<1), a.slice(axis: 0, 1..<2)]).shape, [2, 1, 4])
      let parts = try a.split(at: [1], axis: 0)
      XCTAssertEqual(parts.map(\.shape), [[1, 4], [2, 4]])
      XCTAssertEqual(try a.take(Tensor([2, 0] as [Int32]), axis: 0).floats(), [8, 9, 10, 11, 0, 1, 2, 3])
      let idx = try Tensor([3, 0, 1] as [Int32], shape: [3, 1])
      XCTAssertEqual(try a.takeAlongAxis(idx, axis: 1).floats(), [3, 4, 9])
      let put = try a.putAlongAxis(idx, values: Tensor.full([3, 1], -1), axis: 1)
      XCTAssertEqual(try put.floats(), [0, 1, 2, -1, -1, 5, 6, 7, 8, -1, 10, 11])
      XCTAssertEqual(try Tensor([1, 2] as [Float]).padded([(1, 2)], value: 7).floats(), [7, 1, 2, 7, 7])
      XCTAssertEqual(try a.sliceUpdated(Tensor.zeros([1, 2]), start: [1, 1], stop: [2, 3]).floats(),
                     [0, 1, 2, 3, 4, 0, 0, 7, 8, 9, 10, 11])
      XCTAssertEqual(try a.expandedDims(at: 0).shape, [1, 3, 4])
      XCTAssertEqual(try a.expandedDims(at: 0).squeezed().shape, [3, 4])
      XCTAssertEqual(try a.broadcast(to: [2, 3, 4]).shape, [2, 3, 4])
      XCTAssertEqual(try a.asStrided(shape: [2, 2], strides: [4, 1], offset: 1).floats(), [1, 2, 5, 6])
      XCTAssertEqual(try Tensor([3, 1, 2] as [Float]).argsort().toArray(Int32.self), [1, 2, 0])
      XCTAssertEqual(try Tensor([1, 2, 3] as [Float]).cumsum(axis: 0).floats(), [1, 3, 6])
    }
  }

  func testConv2dMatchesDirectSum() throws {
    try onEngine {
      // One 3x3 single-channel image, a 2x2 kernel: out[i][j] = sum x[i+a][j+b] * w[a][b].
      let x = try Tensor([1, 2, 3, 4, 5, 6, 7, 8, 9] as [Float], shape: [1, 3, 3, 1])
      let w = try Tensor([1, 0, 0, -1] as [Float], shape: [1, 2, 2, 1])
      XCTAssertEqual(try x.conv2d(weight: w).floats(), [-4, -4, -4, -4])
      let padded = try x.conv2d(weight: w, padding: (1, 1))
      XCTAssertEqual(padded.shape, [1, 4, 4, 1])
    }
  }

  func testDtypesRoundTrip() throws {
    try onEngine {
      XCTAssertEqual(try Tensor([1, 2, 3] as [Float]).astype(.float64).doubles(), [1, 2, 3])
      XCTAssertEqual(try Tensor([1.5, -2] as [Double]).dtype, .float64)
      XCTAssertEqual(try Tensor([7, 255] as [UInt8]).astype(.int32).toArray(Int32.self), [7, 255])
      XCTAssertEqual(try Tensor([true, false] as [Bool]).toArray(Bool.self), [true, false])
      for dtype in [DType.float16, .bfloat16] {
        XCTAssertEqual(try Tensor([0.5, 2, -4] as [Float]).astype(dtype).floats(), [0.5, 2, -4])
      }
    }
  }
}
