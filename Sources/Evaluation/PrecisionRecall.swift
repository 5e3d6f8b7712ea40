// Improved precision and recall (Kynkäänniemi et al., 2019): each set of features stands for a
// manifold, the union of balls around its points whose radius is the distance to the point's k-th
// nearest neighbour in its own set. Precision is the share of generated samples inside the real
// manifold (are samples realistic?), recall the share of real images inside the generated one (is the
// data's variety covered?). FID mixes both failures into one number; these two tell them apart.
// Distances are Euclidean on the Inception pool features, in float64, computed block by block so
// that 10k x 10k pairs never sit in memory at once. A point on a ball's boundary counts as outside,
// as the reference implementation (`prdc`) counts it.
import CLinalg
import Foundation

/// Precision and recall of generated samples against real images.
public struct PrecisionRecall: Codable, Equatable, Sendable {
  /// Share of generated samples within the real images' k-NN manifold.
  public var precision: Double
  /// Share of real images within the generated samples' k-NN manifold.
  public var recall: Double
  /// The neighbour whose distance is each ball's radius.
  public var k: Int
}

/// Precision and recall of `fake` against `real`, both row-major (count x `dimension`) features.
public func precisionRecall(real: [Float], fake: [Float], dimension: Int = 2048, k: Int = 3) throws -> PrecisionRecall {
  guard k >= 1, dimension >= 1 else { throw MetricError("precision/recall needs k ≥ 1 (got \(k))") }
  guard real.count % dimension == 0, fake.count % dimension == 0 else {
    throw MetricError("precision/recall: feature arrays are not whole rows of \(dimension) values")
  }
  let (nReal, nFake) = (real.count / dimension, fake.count / dimension)
  guard nReal > k, nFake > k else {
    throw MetricError("precision/recall with k = \(k) needs more than \(k) real and generated images (got \(nReal) and \(nFake))")
  }
  let r = FeatureRows(real, dimension: dimension), f = FeatureRows(fake, dimension: dimension)
  let realRadii = kthNeighbourDistances(r, k: k), fakeRadii = kthNeighbourDistances(f, k: k)
  var fakeInside = [Bool](repeating: false, count: nFake), realInside = [Bool](repeating: false, count: nReal)
  forEachDistanceBlock(r, f) { first, rows, d in
    for i in 0..<rows {
      let ri = first + i
      for j in 0..<nFake {
        let dij = d[i * nFake + j]
        if dij < realRadii[ri] { fakeInside[j] = true }
        if dij < fakeRadii[j] { realInside[ri] = true }
      }
    }
  }
  return PrecisionRecall(precision: Double(fakeInside.filter { $0 }.count) / Double(nFake),
                         recall: Double(realInside.filter { $0 }.count) / Double(nReal), k: k)
}

/// Feature rows in float64 with their squared norms.
private struct FeatureRows {
  let values: [Double]
  let norms: [Double]
  let count: Int
  let dimension: Int

  init(_ features: [Float], dimension: Int) {
    self.dimension = dimension
    count = features.count / dimension
    let values = features.map(Double.init)
    self.values = values
    norms = (0..<(features.count / dimension)).map { i in
      var s = 0.0
      for v in values[(i * dimension)..<((i + 1) * dimension)] { s += v * v }
      return s
    }
  }
}

/// Rows of `a` against all of `b`, a block of rows at a time: `body(firstRow, rows, distances)` with
/// distances (rows x b.count) Euclidean, from |x|² + |y|² - 2 x·y (clamped at 0).
private func forEachDistanceBlock(_ a: FeatureRows, _ b: FeatureRows, body: (Int, Int, [Double]) -> Void) {
  let block = 256
  var products = [Double](repeating: 0, count: block * b.count)
  var first = 0
  while first < a.count {
    let rows = min(block, a.count - first)
    a.values.withUnsafeBufferPointer { av in
      clinalg_gemm_nt(Int32(rows), Int32(b.count), Int32(a.dimension), av.baseAddress! + first * a.dimension, b.values, &products)
    }
    var d = [Double](repeating: 0, count: rows * b.count)
    for i in 0..<rows {
      for j in 0..<b.count { d[i * b.count + j] = max(a.norms[first + i] + b.norms[j] - 2 * products[i * b.count + j], 0).squareRoot() }
    }
    body(first, rows, d)
    first += rows
  }
}

/// Each row's distance to its k-th nearest other row of the same set.
private func kthNeighbourDistances(_ x: FeatureRows, k: Int) -> [Double] {
  var out = [Double](repeating: 0, count: x.count)
  forEachDistanceBlock(x, x) { first, rows, d in
    for i in 0..<rows {
      var row = Array(d[(i * x.count)..<((i + 1) * x.count)])
      row.remove(at: first + i)  // the point itself
      row.sort()
      out[first + i] = row[k - 1]
    }
  }
  return out
}

/// A metric asked of inputs it cannot be computed on (too few images, ragged features).
public struct MetricError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
