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

  func testGeluInHalfPrecisionRecomputesItsGradient() throws {
    // bf16 and fp16 (mixed precision; on the GPU every dtype) take MLX's composition with our own
    // gradient from x: it must equal the composition's automatic gradient (float32 reference).
    for dtype in [DType.bfloat16, .float16] {
      try compare("gelu \(dtype)", shapes: [[7, 13], [3, 65, 257]], tolerance: 2e-2,
                  fast: { try $0.astype(dtype).gelu().astype(.float32) },
                  reference: { try $0.gelu(fast: false) })
    }
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

extension KernelTests {
  func testAttention() throws {
    // (batch, tokens, heads, head_dim): odd token counts and head sizes exercise the kernel's edge
    // tiles (16 columns, 4 rows at a time; dot products of 8 lanes for the columns left over, with
    // head sizes not a multiple of 8); one (batch, head) pair and many split across threads. Up to 16
    // tokens with head sizes that are multiples of 16 (at most 256) take the small-token kernel on
    // the AVX paths (one vector of scores up to 8 tokens on AVX2, two up to 16): 1, 7, 8, 9 and 16
    // tokens, head sizes 16 to 256; 17 tokens do not. Every path this machine can run is tested.
    let cases = [(1, 1, 1, 8), (2, 7, 2, 5), (3, 65, 4, 16), (2, 130, 2, 64), (64, 7, 4, 64), (2, 19, 3, 12),
                 (1, 1, 1, 16), (3, 16, 2, 32), (5, 8, 1, 256), (2, 17, 2, 16), (3, 9, 2, 48)]
    for (i, (b, l, h, hd)) in cases.enumerated() {
      try onEveryCPUPath { path in
        let keys = try PRNGKey(seed: UInt64(40 + i)).split(2)
        let qkv = try Random.normal([b, l, 3 * h * hd], scale: 1.5, key: keys[0])
        let probe = try Random.normal([b, l, h * hd], key: keys[1])
        let scale = Float(1 / Double(hd).squareRoot())
        let name = "attention \(b)x\(l) heads \(h) head_dim \(hd) (\(path))"
        let fast = try Tensor.attention(packedQKV: qkv, heads: h, scale: scale)
        let slow = try Tensor.attention(packedQKV: qkv, heads: h, scale: scale, fast: false)
        assertClose(try fast.doubles(), try slow.doubles(), tolerance: 2e-5, "\(name) forward")
        let g: (Bool) throws -> Tensor = { useFast in
          try grad([qkv]) { try (Tensor.attention(packedQKV: $0[0], heads: h, scale: scale, fast: useFast) * probe).sum() }[0]
        }
        assertClose(try g(true).doubles(), try g(false).doubles(), tolerance: 5e-5, "\(name) gradient")
      }
    }
  }

  func testPaddedAttentionMatchesUnpadded() throws {
    // The GPU pads the tokens for cuDNN's fused backward (257 -> 384) and masks the padded keys out;
    // the same composition runs here on the CPU: padding to multiples of 8 and 128 must not change the
    // output or the gradient, in float32 and in bfloat16 (the mixed-precision path it is meant for).
    for (i, (b, l, h, hd, dtype)) in [(2, 13, 2, 8, DType.float32), (1, 257, 2, 16, .float32), (2, 37, 3, 8, .bfloat16)].enumerated() {
      try onEngine {
        let keys = try PRNGKey(seed: UInt64(90 + i)).split(2)
        let qkv = try Random.normal([b, l, 3 * h * hd], scale: 1.5, key: keys[0]).astype(dtype)
        let probe = try Random.normal([b, l, h * hd], key: keys[1]).astype(dtype)
        let scale = Float(1 / Double(hd).squareRoot())
        let run: (Int, Tensor) throws -> Tensor = { pad, x in
          try Tensor.attention(packedQKV: x, heads: h, scale: scale, fast: false, padTokensTo: pad)
        }
        let tolerance = dtype == .float32 ? 2e-5 : 2e-2
        let plain = try run(1, qkv)
        XCTAssertEqual(plain.shape, [b, l, h * hd])
        for pad in [8, 128] {
          let name = "attention \(b)x\(l) \(dtype) padded to a multiple of \(pad)"
          let padded = try run(pad, qkv)
          XCTAssertEqual(padded.shape, plain.shape, name)
          assertCloseAtScale(try padded.doubles(), try plain.doubles(), tolerance: tolerance, "\(name) forward")
          let g: (Int) throws -> Tensor = { p in try grad([qkv]) { try (run(p, $0[0]) * probe).astype(.float32).sum() }[0] }
          assertCloseAtScale(try g(pad).doubles(), try g(1).doubles(), tolerance: tolerance, "\(name) gradient")
        }
      }
    }
  }

  func testLinear() throws {
    // (rows, features of each input part, out, bias): the forward and the gradients of every part, w
    // and b against MLX's concatenate + addmm on wᵀ; several parts are U-ViT's `skip_linear(cat(x, skip))`.
    // The last two cross every block edge of both kernels (AVX-512: 12 x 32 tiles, AVX2: 6 x 16; 512 or
    // 256 steps of k, 144 rows and 512 columns per block) with remainders, and split across threads by
    // rows and by columns. In the last, the weight gradient's gᵀ has runs 1024 floats (4 KB) apart,
    // which the AVX2 kernel packs rather than reads in place. Every CPU path this machine can run is tested.
    let cases = [(1, [1], 1, true), (7, [5], 3, false), (448, [256, 256], 256, true), (65, [48], 33, true),
                 (9, [3, 4, 5], 7, true), (301, [600, 300], 77, true), (20, [300], 2200, true), (301, [19], 1024, true)]
    for (i, (rows, widths, outputs, hasBias)) in cases.enumerated() {
      try onEveryCPUPath { path in
        let keys = try PRNGKey(seed: UInt64(60 + i)).split(widths.count + 3)
        let parts = try widths.enumerated().map { try Random.normal([rows, $1], key: keys[3 + $0]) }
        let w = try Random.normal([outputs, widths.reduce(0, +)], key: keys[0])
        let b = try Random.normal([outputs], key: keys[1])
        let probe = try Random.normal([rows, outputs], key: keys[2])
        let name = "linear \(rows)x\(widths) -> \(outputs)\(hasBias ? " with bias" : "") (\(path))"
        let n = widths.count
        let run: (Bool, [Tensor]) throws -> Tensor = { fast, a in
          try Tensor.linear(concatenationOf: Array(a[0..<n]), weight: a[n], bias: hasBias ? a[n + 1] : nil, fast: fast)
        }
        let inputs = parts + [w, b]
        assertCloseAtScale(try run(true, inputs).doubles(), try run(false, inputs).doubles(), tolerance: 1e-5, "\(name) forward")
        let argnums = Array(0..<(hasBias ? n + 2 : n + 1))
        let grads: (Bool) throws -> [Tensor] = { fast in
          try valueAndGrad(inputs, argnums: argnums) { [try (run(fast, $0) * probe).sum()] }.grads
        }
        let (fast, slow) = (try grads(true), try grads(false))
        let labels = (0..<n).map { "x\($0)" } + ["w", "b"]
        for j in argnums {
          XCTAssertEqual(fast[j].shape, slow[j].shape, "\(name) gradient of \(labels[j])")
          assertCloseAtScale(try fast[j].doubles(), try slow[j].doubles(), tolerance: 1e-5, "\(name) gradient of \(labels[j])")
        }
      }
    }
  }

  func testEachCPUPathServesItsOwnProduct() throws {
    // The tests here compare whichever product a path dispatches to with MLX's matmul on OpenBLAS; on an
    // AVX path that must be ours, or they would compare OpenBLAS with itself. The paths offered must be
    // those the CPU's flags allow, and the default the widest of them unless the environment forces one.
    #if arch(x86_64)
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
      throw XCTSkip("no /proc/cpuinfo: this system does not say which vector extensions its CPU has")
    }
    let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
    let expected = (flags.contains("avx512f") ? ["avx512"] : []) + (flags.isSuperset(of: ["avx2", "fma"]) ? ["avx2"] : [])
      + ["generic"]
    #else
    let expected = ["generic"]
    #endif
    XCTAssertEqual(Engine.supportedCPUPaths, expected)
    let environment = ProcessInfo.processInfo.environment
    if environment["MASKDM_ISA"] == nil && environment["MASKDM_GEMM"] == nil {
      XCTAssertEqual(Engine.cpuPath, expected[0], "the default path is the widest the CPU has")
    }
    let products = ["avx512": "own AVX-512", "avx2": "own AVX2", "generic": "OpenBLAS"]
    var seen: [String] = []
    try onEveryCPUPath { path in
      seen.append(path)
      XCTAssertEqual(Engine.cpuPath, path)
      XCTAssertEqual(Engine.cpuMatrixProduct, products[path], "on the \(path) path")
    }
    XCTAssertEqual(seen, expected)
    for path in Engine.allCPUPaths where !expected.contains(path) {
      XCTAssertThrowsError(try Engine.setCPUPath(path), "this CPU cannot run \(path)")
    }
    XCTAssertThrowsError(try Engine.setCPUPath("sse2"))
  }

  func testLinearOnViews() throws {
    // Inputs as MLX hands them over: transposed, a column slice (a leading dimension wider than the
    // row), a broadcast row (stride 0, which BLAS cannot read and the kernel copies), and a weight that
    // is itself a column slice. On every CPU path.
    try onEveryCPUPath { path in
      let keys = try PRNGKey(seed: 70).split(5)
      let w = try Random.normal([4, 10], key: keys[0]).slice(axis: 1, 3..<8)  // (4, 5)
      let b = try Random.normal([4], key: keys[1])
      let views = [
        ("transposed", try Random.normal([5, 9], key: keys[2]).transposed()),
        ("column slice", try Random.normal([9, 12], key: keys[3]).slice(axis: 1, 2..<7)),
        ("broadcast row", try Random.normal([1, 5], key: keys[4]).broadcast(to: [9, 5])),
      ]
      for (name, x) in views {
        let fast = try Tensor.linear(x, weight: w, bias: b), slow = try Tensor.linear(x, weight: w, bias: b, fast: false)
        assertClose(try fast.doubles(), try slow.doubles(), tolerance: 1e-5, "linear on a \(name) input (\(path))")
        let grads: (Bool) throws -> [Tensor] = { useFast in
          try grad([x, w, b]) { try Tensor.linear($0[0], weight: $0[1], bias: $0[2], fast: useFast).square().sum() }
        }
        for (g1, g2) in zip(try grads(true), try grads(false)) {
          assertClose(try g1.doubles(), try g2.doubles(), tolerance: 1e-4, "linear gradient on a \(name) input (\(path))")
        }
      }
    }
  }

  func testAdamWEMAUpdate() throws {
    // The fused update against the same formula composed from MLX ops, for a decayed and an
    // exempt parameter, on a size that the kernel splits across two threads (2 x 64K values or more)
    // and that ends in a partial vector (of 8 and of 16 lanes), on every CPU path; and a small one that
    // is not streamed (under 16K values).
    try onEveryCPUPath { path in
      let keys = try PRNGKey(seed: 7).split(5)
      let shape = [3, 50_009]
      let p = try Random.normal(shape, key: keys[0]), g = try Random.normal(shape, scale: 0.1, key: keys[1])
      let m = try Random.normal(shape, scale: 0.01, key: keys[2])
      let v = try Random.uniform(shape, low: 0, high: 1e-3, key: keys[3])
      let e = try Random.normal(shape, key: keys[4])
      for decay in [true, false] {
        try assertFusedAdamWMatchesComposed(p: p, g: g, m: m, v: v, ema: e, decay: decay, "(decay \(decay), \(path))")
      }
      let small = [1, 1_003]
      let ps = try Random.normal(small, key: keys[0]), gs = try Random.normal(small, scale: 0.1, key: keys[1])
      try assertFusedAdamWMatchesComposed(p: ps, g: gs, m: gs, v: try gs.square(), ema: ps, decay: true, "(1003 values, \(path))")
    }
  }

  /// The fused AdamW + EMA update against the same formula composed from MLX ops, output by output.
  func assertFusedAdamWMatchesComposed(p: Tensor, g: Tensor, m: Tensor, v: Tensor, ema: Tensor, decay: Bool,
                                       _ label: String) throws {
    // A large learning rate and a small EMA decay, so that every term moves the outputs visibly.
    let scalars = try Tensor([1e-2, 1e-2 * 0.03, 1e-2 / 0.0199, 0.14, 0.75] as [Float])
    let run: (Bool) throws -> [[Double]] = { fast in
      let r = try Tensor.adamwEMAUpdate(parameter: p, gradient: g, m: m, v: v, ema: ema, scalars: scalars,
                                        beta1: 0.99, beta2: 0.99, eps: 1e-8, weightDecay: decay, fast: fast)
      return try [r.parameter, r.m, r.v, r.ema].map { try $0.doubles() }
    }
    let (fast, slow) = (try run(true), try run(false))
    for (i, name) in ["parameter", "m", "v", "ema"].enumerated() {
      // Bit for bit: the kernel rounds after every operation, as the composed ops do.
      let differing = fast[i].indices.filter { fast[i][$0] != slow[i][$0] }
      XCTAssertEqual(fast[i].count, slow[i].count)
      XCTAssertTrue(differing.isEmpty, "adamw_ema \(name) \(label): \(differing.count) values differ, the first at "
        + (differing.first.map { "\($0): \(fast[i][$0]) against \(slow[i][$0])" } ?? ""))
    }
  }
}

extension KernelTests {
  func testConv2dBiasReLU() throws {
    // (batch, height, width, in channels, out channels, kernel, stride, padding low, padding high):
    // the pointwise path, Inception's kernel shapes, strides over odd sizes, asymmetric padding, and a
    // deep one (5x5x129) whose output rows span several im2col chunks; on every CPU path.
    typealias Case = (n: Int, h: Int, w: Int, c: Int, o: Int, k: (Int, Int), s: Int, lo: (Int, Int), hi: (Int, Int))
    let cases: [Case] = [
      (1, 9, 11, 3, 5, (1, 1), 1, (0, 0), (0, 0)),
      (3, 13, 7, 17, 33, (1, 1), 1, (0, 0), (0, 0)),
      (3, 11, 13, 7, 9, (3, 3), 1, (1, 1), (1, 1)),
      (1, 15, 17, 5, 6, (3, 3), 2, (0, 0), (0, 0)),
      (3, 12, 9, 3, 31, (3, 3), 2, (0, 0), (0, 0)),
      (3, 9, 10, 19, 7, (1, 7), 1, (0, 3), (0, 3)),
      (1, 10, 9, 19, 7, (7, 1), 1, (3, 0), (3, 0)),
      (3, 23, 19, 129, 11, (5, 5), 1, (2, 2), (2, 2)),
      (1, 8, 9, 4, 3, (3, 3), 1, (1, 0), (2, 1)),
      (3, 7, 7, 5, 4, (1, 1), 2, (0, 0), (0, 0)),
    ]
    for (i, t) in cases.enumerated() {
      try onEveryCPUPath { path in
        let keys = try PRNGKey(seed: UInt64(70 + i)).split(3)
        let x = try Random.normal([t.n, t.h, t.w, t.c], key: keys[0])
        let w = try Random.normal([t.o, t.k.0, t.k.1, t.c], scale: 0.5, key: keys[1])
        let b = try Random.normal([t.o], key: keys[2])
        let name = "conv \(t) (\(path))"
        for relu in [true, false] {
          let f: (Bool) throws -> Tensor = { useFast in
            try x.conv2dBiasReLU(weight: w, bias: b, stride: (t.s, t.s), padding: t.lo, paddingHigh: t.hi, relu: relu,
                                 fast: useFast)
          }
          let reference = try x.conv2d(weight: w, stride: (t.s, t.s), padding: t.lo, paddingHigh: t.hi) + b
          assertClose(try f(false).doubles(), try (relu ? reference.maximum(Tensor.scalar(0)) : reference).doubles(),
                      tolerance: 1e-6, "\(name) composed")
          assertClose(try f(true).doubles(), try f(false).doubles(), tolerance: 1e-4, "\(name) relu \(relu)")
        }
        let noBias = try x.conv2dBiasReLU(weight: w, bias: nil, stride: (t.s, t.s), padding: t.lo, paddingHigh: t.hi)
        let noBiasRef = try x.conv2d(weight: w, stride: (t.s, t.s), padding: t.lo, paddingHigh: t.hi).maximum(Tensor.scalar(0))
        assertClose(try noBias.doubles(), try noBiasRef.doubles(), tolerance: 1e-4, "\(name) without bias")
      }
    }
  }

  func testConv2dBiasReLUGradient() throws {
    // The kernel's gradient is MLX's gradient of the composition; checked against it directly, on every
    // CPU path.
    try onEveryCPUPath { path in
      let keys = try PRNGKey(seed: 90).split(4)
      let x = try Random.normal([2, 7, 6, 5], key: keys[0])
      let w = try Random.normal([4, 3, 3, 5], key: keys[1])
      let b = try Random.normal([4], key: keys[2])
      let probe = try Random.normal([2, 4, 3, 4], key: keys[3])
      let g: (Bool) throws -> [Tensor] = { useFast in
        try grad([x, w, b]) {
          try ($0[0].conv2dBiasReLU(weight: $0[1], bias: $0[2], stride: (2, 2), padding: (1, 1), fast: useFast) * probe).sum()
        }
      }
      let (gf, gs) = (try g(true), try g(false))
      for (i, name) in ["x", "weight", "bias"].enumerated() {
        assertClose(try gf[i].doubles(), try gs[i].doubles(), tolerance: 1e-5, "conv d\(name) (\(path))")
      }
    }
  }
}

extension KernelTests {
  func testKernelsOnViews() throws {
    // Inputs as a graph hands them over after a transpose, a slice or a broadcast: not row-major, so the
    // kernels read row-major copies made in their task (dispatch.h). The gradient of a plain sum
    // reaches the backward kernels as a broadcast, too. On every CPU path.
    try onEveryCPUPath { path in
      let keys = try PRNGKey(seed: 80).split(8)
      let views: [(String, Tensor)] = [
        ("transposed", try Random.normal([6, 4, 24], key: keys[0]).transposed([1, 0, 2])),
        ("sliced", try Random.normal([4, 6, 30], key: keys[1]).slice(axis: 2, 3..<27)),
        ("broadcast", try Random.normal([1, 6, 24], key: keys[2]).broadcast(to: [4, 6, 24])),
      ]
      let w = try Random.normal([24], key: keys[3]) + 1, b = try Random.normal([24], key: keys[4])
      let ops: [(String, (Tensor, Bool) throws -> Tensor)] = [
        ("gelu", { try $0.gelu(fast: $1) }),
        ("layer_norm", { try $0.layerNorm(weight: w, bias: b, fast: $1) }),
        ("attention", { try Tensor.attention(packedQKV: $0, heads: 2, scale: 0.5, fast: $1) }),
      ]
      for (viewName, x) in views {
        for (opName, op) in ops {
          let name = "\(opName) on a \(viewName) input (\(path))"
          assertClose(try op(x, true).doubles(), try op(x, false).doubles(), tolerance: 2e-5, "\(name) forward")
          let g: (Bool) throws -> Tensor = { fast in try grad([x]) { try op($0[0], fast).sum() }[0] }
          assertClose(try g(true).doubles(), try g(false).doubles(), tolerance: 1e-4, "\(name) gradient")
        }
      }
      // The optimizer's state as views: a transposed parameter, a broadcast gradient.
      let p = try Random.normal([40, 30], key: keys[5]).transposed()
      let gradient = try Random.normal([1, 40], scale: 0.1, key: keys[6]).broadcast(to: [30, 40])
      let m = try Random.normal([30, 40], scale: 0.01, key: keys[7]), v = try m.square()
      try assertFusedAdamWMatchesComposed(p: p, g: gradient, m: m, v: v, ema: p, decay: true, "on views (\(path))")
    }
  }
}

extension KernelTests {
  /// Pooling by plain loops over the windows' real pixels: the reference for both forms of `pool2d`.
  private func loopPool(_ x: [Double], _ shape: [Int], max isMax: Bool, k: Int, s: Int, p: Int, includePad: Bool) -> [Double] {
    let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
    let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1)
    var y = [Double]()
    for img in 0..<n {
      for i in 0..<oh {
        for j in 0..<ow {
          for ch in 0..<c {
            var acc = isMax ? -Double.infinity : 0
            var count = 0
            for di in 0..<k {
              for dj in 0..<k {
                let (ih, iw) = (i * s - p + di, j * s - p + dj)
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                let v = x[((img * h + ih) * w + iw) * c + ch]
                acc = isMax ? Swift.max(acc, v) : acc + v
                count += 1
              }
            }
            y.append(isMax ? acc : acc / Double(includePad ? k * k : count))
          }
        }
      }
    }
    return y
  }

  func testPool2d() throws {
    // (batch, height, width, channels, max?, kernel, stride, padding, count padding?): the FID network's
    // three overlapping pools on odd sizes, the padded average both ways, and a stride that leaves
    // columns over; forward against plain loops, and the kernel's gradient against the composed form's.
    typealias Case = (n: Int, h: Int, w: Int, c: Int, max: Bool, k: Int, s: Int, p: Int, includePad: Bool)
    let cases: [Case] = [
      (2, 9, 11, 5, true, 3, 2, 0, false), (3, 7, 6, 17, true, 3, 1, 1, false), (2, 8, 9, 19, false, 3, 1, 1, false),
      (1, 5, 7, 3, false, 3, 1, 1, true), (2, 10, 10, 4, false, 2, 3, 0, false), (1, 6, 5, 33, true, 5, 2, 2, false),
    ]
    for (i, t) in cases.enumerated() {
      try onEveryCPUPath { path in
        let x = try Random.normal([t.n, t.h, t.w, t.c], key: PRNGKey(seed: UInt64(90 + i)))
        let name = "pool \(t) (\(path))"
        let f: (Tensor, Bool) throws -> Tensor = {
          try $0.pool2d(max: t.max, kernel: t.k, stride: t.s, padding: t.p, includePad: t.includePad, fast: $1)
        }
        let reference = loopPool(try x.doubles(), x.shape, max: t.max, k: t.k, s: t.s, p: t.p, includePad: t.includePad)
        XCTAssertEqual(try f(x, true).shape, try f(x, false).shape, name)
        assertClose(try f(x, false).doubles(), reference, tolerance: 1e-5, "\(name) composed")
        assertClose(try f(x, true).doubles(), reference, tolerance: 1e-5, "\(name) kernel")
        let probe = try Random.normal(try f(x, false).shape, key: PRNGKey(seed: UInt64(190 + i)))
        let grad: (Bool) throws -> Tensor = { fast in
          try valueAndGrad([x], argnums: [0]) { [try (f($0[0], fast) * probe).sum()] }.grads[0]
        }
        assertClose(try grad(true).doubles(), try grad(false).doubles(), tolerance: 1e-6, "\(name) gradient")
      }
    }
    XCTAssertThrowsError(try Random.normal([1, 4, 4, 2], key: PRNGKey(seed: 1)).pool2d(
      max: true, kernel: 3, stride: 1, padding: 3, includePad: false), "padding as wide as the window is refused")
  }
}
