import Engine
import MaskDM
import XCTest

/// Properties of the mask generators.
final class MaskTests: XCTestCase {
  func rows(_ t: Tensor) throws -> [[Int32]] {
    let v = try t.toArray(Int32.self), n = t.shape[1]
    return (0..<t.shape[0]).map { Array(v[($0 * n)..<(($0 + 1) * n)]) }
  }

  func testPatchMasksHaveExactCounts() throws {
    try Engine.run {
      for ratio in [0.0, 0.1, 0.5, 0.9] {
        let (mask, visible) = try sampleMasks(MaskSpec(kind: .patch, ratio: ratio), grid: 8, batch: 5, key: PRNGKey(seed: 1))
        for (m, v) in zip(try rows(mask), try rows(visible)) {
          XCTAssertEqual(m.filter { $0 == 1 }.count, Int(ratio * 64))
          XCTAssertEqual(v, v.sorted())
          XCTAssertEqual(Set(v).count, v.count)
          XCTAssertTrue(v.allSatisfy { m[Int($0)] == 0 })
        }
      }
    }
  }

  func testBlockMasksAreAlignedBlocks() throws {
    try Engine.run {
      for b in [2, 4] {
        let (mask, _) = try sampleMasks(MaskSpec(kind: .block(b), ratio: 0.5), grid: 8, batch: 4, key: PRNGKey(seed: 2))
        for m in try rows(mask) {
          XCTAssertEqual(m.filter { $0 == 1 }.count, Int(0.5 * 64) / (b * b) * b * b)
          for by in 0..<(8 / b) {
            for bx in 0..<(8 / b) {
              let cells = (0..<(b * b)).map { m[(by * b + $0 / b) * 8 + bx * b + $0 % b] }
              XCTAssertEqual(Set(cells).count, 1, "block (\(by), \(bx)) is partly masked")
            }
          }
        }
      }
    }
  }

  func testCropLeavesOneWindowVisible() throws {
    try Engine.run {
      let (mask, visible) = try sampleMasks(MaskSpec(kind: .crop(3), ratio: 0.9), grid: 8, batch: 6, key: PRNGKey(seed: 3))
      for (m, v) in zip(try rows(mask), try rows(visible)) {
        XCTAssertEqual(m.filter { $0 == 0 }.count, 9)
        let ys = v.map { $0 / 8 }, xs = v.map { $0 % 8 }
        XCTAssertEqual(ys.max()! - ys.min()!, 2)
        XCTAssertEqual(xs.max()! - xs.min()!, 2)
      }
    }
  }

  func testDeterministicPerKeyAndDifferentAcrossKeys() throws {
    try Engine.run {
      let spec = MaskSpec(kind: .patch, ratio: 0.75)
      let a = try sampleMasks(spec, grid: 8, batch: 3, key: PRNGKey(seed: 9)).mask.toArray(Int32.self)
      let b = try sampleMasks(spec, grid: 8, batch: 3, key: PRNGKey(seed: 9)).mask.toArray(Int32.self)
      let c = try sampleMasks(spec, grid: 8, batch: 3, key: PRNGKey(seed: 10)).mask.toArray(Int32.self)
      XCTAssertEqual(a, b)
      XCTAssertNotEqual(a, c)
    }
  }

  func testInvalidSettingsSaySo() throws {
    try Engine.run {
      let key = try PRNGKey(seed: 0)
      XCTAssertThrowsError(try sampleMasks(MaskSpec(kind: .patch, ratio: 1.0), grid: 8, batch: 1, key: key)) {
        XCTAssertTrue("\($0)".contains("[0, 1)"), "\($0)")
      }
      XCTAssertThrowsError(try sampleMasks(MaskSpec(kind: .block(3), ratio: 0.5), grid: 8, batch: 1, key: key)) {
        XCTAssertTrue("\($0)".contains("must divide"), "\($0)")
      }
      XCTAssertThrowsError(try sampleMasks(MaskSpec(kind: .crop(9), ratio: 0.5), grid: 8, batch: 1, key: key)) {
        XCTAssertTrue("\($0)".contains("crop window"), "\($0)")
      }
    }
  }
}

/// A batch of masks as the tests look at them: `mask` (B, N) int32 with 1 = masked, and the `visible`
/// (B, Nvis) patch indices training uses, ascending. Ratio 0 (patch or block) keeps every patch.
func sampleMasks(_ spec: MaskSpec, grid: Int, batch: Int, key: PRNGKey) throws -> (mask: Tensor, visible: Tensor) {
  let visible = try sampleVisible(spec, grid: grid, batch: batch, key: key)
  return (try maskFrom(visible: visible, patches: grid * grid), visible)
}
