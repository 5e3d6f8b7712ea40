import Engine
import NN
import XCTest

/// Layers against hand-computed values and the module tree's naming.
final class LayerTests: XCTestCase {
  func testLinearIsXWTransposePlusB() throws {
    try Engine.run {
      let l = try Linear(2, 3, key: PRNGKey(seed: 0))
      try l.update(["weight": try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [3, 2]), "bias": try Tensor([1, 0, -1] as [Float])])
      let x = try Tensor([1, 1, 2, 0] as [Float], shape: [2, 2])
      XCTAssertEqual(try l(x).floats(), [4, 7, 10, 3, 6, 9])
      XCTAssertEqual(try l(x.reshaped([1, 2, 2])).shape, [1, 2, 3])
    }
  }

  func testParameterNamesFollowTheStateDict() throws {
    try Engine.run {
      let block = try TransformerBlock(8, heads: 2, qkvBias: true, skip: true, key: PRNGKey(seed: 1))
      XCTAssertEqual(block.parameters().keys.sorted(), [
        "attn.proj.bias", "attn.proj.weight", "attn.q_bias", "attn.qkv.weight", "attn.v_bias",
        "mlp.fc1.bias", "mlp.fc1.weight", "mlp.fc2.bias", "mlp.fc2.weight",
        "norm1.bias", "norm1.weight", "norm2.bias", "norm2.weight", "skip_linear.bias", "skip_linear.weight",
      ])
      XCTAssertNil(block.parameters()["attn.qkv.bias"], "qkv has no bias of its own")
      // Initialisation: truncated normal std 0.02 for weights, zero biases, LayerNorm 1/0.
      let w = try block.parameters()["mlp.fc1.weight"]!.floats()
      let std = (w.map { $0 * $0 }.reduce(0, +) / Float(w.count)).squareRoot()
      XCTAssertEqual(Double(std), 0.02, accuracy: 0.004)
      XCTAssertEqual(try block.parameters()["mlp.fc1.bias"]!.floats(), Array(repeating: 0, count: 32))
      XCTAssertEqual(try block.parameters()["norm1.weight"]!.floats(), Array(repeating: 1, count: 8))
    }
  }

  func testAttentionQVBiasesShiftTheOutput() throws {
    try Engine.run {
      let a = try Attention(8, heads: 2, qkvBias: true, key: PRNGKey(seed: 2))
      let x = try Random.normal([1, 5, 8], key: PRNGKey(seed: 3))
      let before = try a(x).floats()
      try a.update(["v_bias": try Tensor.ones([8])])
      XCTAssertNotEqual(try a(x).floats(), before)
    }
  }
}
