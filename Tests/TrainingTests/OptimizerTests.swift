import Engine
import Foundation
import Training
import XCTest

/// AdamW, EMA, warm-up and clipping against PyTorch's formulas evaluated by hand in float64.
final class OptimizerTests: XCTestCase {
  func testAdamWMatchesTorchFormula() throws {
    try Engine.run {
      let adam = AdamW(beta1: 0.9, beta2: 0.99, weightDecay: 0.03)
      var p: [Double] = [0.5, -1.0, 2.0], m = [0.0, 0, 0], v = [0.0, 0, 0]
      var tp = try Tensor(p.map(Float.init)), tm = try Tensor.zeros([3]), tv = try Tensor.zeros([3])
      // The fused AdamW + EMA update the training step runs, side by side (EMA decay 0.5).
      var fp = tp, fm = tm, fv = tv, fe = tp
      var ema = p
      let grads: [[Double]] = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]]
      for (i, g) in grads.enumerated() {
        let step = i + 1, lr = 1e-2
        // torch.optim.AdamW, single tensor path.
        let b1c = 1 - pow(0.9, Double(step)), b2c = 1 - pow(0.99, Double(step))
        for j in 0..<3 {
          p[j] *= 1 - lr * 0.03
          m[j] = m[j] + (g[j] - m[j]) * (1 - 0.9)
          v[j] = v[j] * 0.99 + g[j] * g[j] * (1 - 0.99)
          p[j] -= lr / b1c * m[j] / (v[j].squareRoot() / b2c.squareRoot() + 1e-8)
        }
        let scalars = try Tensor((adam.scalars(lr: lr, step: step) + [0.5]).map(Float.init))
        // MLX's composition of the same update (the GPU's path), EMA ignored here.
        (tp, tm, tv, _) = try Tensor.adamwEMAUpdate(parameter: tp, gradient: Tensor(g.map(Float.init)), m: tm, v: tv, ema: tp,
                                                    scalars: scalars, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: true,
                                                    fast: false)
        (fp, fm, fv, fe) = try adam.updateWithEMA(parameter: fp, gradient: Tensor(g.map(Float.init)), m: fm, v: fv, ema: fe,
                                                  scalars: scalars, decay: true)
        for j in 0..<3 { ema[j] = ema[j] * 0.5 + p[j] * 0.5 }
      }
      let got = try tp.doubles(), fused = try fp.doubles(), fusedEMA = try fe.doubles()
      for j in 0..<3 {
        XCTAssertEqual(got[j], p[j], accuracy: 1e-6)
        XCTAssertEqual(fused[j], p[j], accuracy: 1e-6)
        XCTAssertEqual(fusedEMA[j], ema[j], accuracy: 1e-6)
      }
      XCTAssertFalse(AdamW.decays("encoder.encoder_pos_embed"))
      XCTAssertTrue(AdamW.decays("encoder.in_blocks.0.attn.qkv.weight"))
    }
  }

  func testEMAFollowsEmaPytorchSchedule() {
    let ema = EMASchedule(decay: 0.999)
    XCTAssertEqual(ema.action(count: 0), 0, "copies during warm-up")
    XCTAssertEqual(ema.action(count: 100), 0)
    // First real update: epoch = 1 -> 1 - 2^(-2/3).
    XCTAssertEqual(ema.action(count: 101)!, 1 - pow(2, -2.0 / 3), accuracy: 1e-12)
    XCTAssertEqual(ema.action(count: 1_000_000), 0.999, "capped at the decay")
    let every = EMASchedule(decay: 0.999, updateEvery: 10)
    XCTAssertNil(every.action(count: 3))
  }

  func testWarmupAndClipping() throws {
    XCTAssertEqual(learningRate(base: 1, step: 5, warmupSteps: 10), 0.5)
    XCTAssertEqual(learningRate(base: 1, step: 50, warmupSteps: 10), 1)
    XCTAssertEqual(learningRate(base: 2e-4, step: 1, warmupSteps: 0), 2e-4)
    try Engine.run {
      let (clipped, norm) = try clipGlobalNorm([Tensor([3, 0] as [Float]), Tensor([4] as [Float])], maxNorm: 1)
      XCTAssertEqual(try norm.item(), 5, accuracy: 1e-6)
      let total = try clipped.map { try $0.square().sum().item() }.reduce(0, +).squareRoot()
      XCTAssertEqual(total, 1, accuracy: 1e-5)
      let (kept, _) = try clipGlobalNorm([Tensor([0.3, 0.4] as [Float])], maxNorm: 1)
      XCTAssertEqual(try kept[0].floats(), [0.3, 0.4])
    }
  }
}
