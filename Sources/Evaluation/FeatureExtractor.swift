// FID features by the TTUR protocol: uint8 RGB (gray replicated) -> float -> TF1 bilinear resize to
// 299x299 (align_corners False, no half-pixel centres: source = dst * in / out, clamped at the border,
// no antialiasing) -> v / 128 - 1 -> the TF-FID Inception-v3 -> 2048 features per image. With
// `resizeMode` .clean the resize is clean-fid's instead (FIDResize.swift); the rest is the same.
import Engine
import Foundation
import TorchFormats

/// The (out, in) matrix of TF1's bilinear resize along one axis: row i mixes source pixels
/// floor(i * in / out) and the next one (clamped).
func tf1ResizeMatrix(from input: Int, to output: Int) -> [Float] {
  var m = [Float](repeating: 0, count: output * input)
  let scale = Double(input) / Double(output)
  for i in 0..<output {
    let src = Double(i) * scale
    let i0 = min(Int(src.rounded(.down)), input - 1), i1 = min(i0 + 1, input - 1)
    let f = src - Double(i0)
    m[i * input + i0] += Float(1 - f)
    m[i * input + i1] += Float(f)
  }
  return m
}

/// Extracts Inception features; load once, call for many batches.
public final class InceptionFeatureExtractor {
  let network: InceptionNode
  public static let dimension = 2048
  public static let inputSize = 299
  /// The resize to 299x299 (default: the TTUR protocol's).
  public var resizeMode: FIDResize = .ttur

  /// Loads `weights` (default: $MASKDM_FID_WEIGHTS, else .deps/fid/default_1.pt found from the current
  /// directory or the executable's upwards).
  public init(weights: URL? = nil) throws {
    let url = try weights ?? InceptionFeatureExtractor.defaultWeights()
    network = try Engine.run { try buildInception(try TorchFile(contentsOf: url)) }
    compiledForward = Engine.device == .gpu
  }

  /// Whether the network runs as one compiled graph (traced once per batch shape). On by default on
  /// the GPU, where MLX then fuses each convolution's bias and ReLU, and each pool's slices, into one
  /// pass instead of separate kernels over the feature maps; off on the CPU, where the convolution is
  /// this project's kernel with bias and ReLU fused already and compiling measured no different
  /// (`bench fid --batch 16 --repeats 8`, 10 runs each alternating on a throwaway build with the switch
  /// read from the environment: medians 19.6 compiled vs 18.6 img/s, both ranging 14-22).
  public var compiledForward: Bool
  private var compiled: CompiledFunction?

  func forward(_ x: Tensor) throws -> Tensor {
    guard compiledForward else {
      // One stage at a time: evaluated as one graph, MLX's order kept several blocks' branch outputs
      // alive together (peak RSS of `bench fid` 640-840 MB, 400-450 MB stage by stage; no clear
      // difference in speed over 11 alternating pairs on a Zen 3; docs/performance.md).
      var y = x
      for stage in network.stages {
        y = try stage(y)
        try eval(y)
      }
      return y
    }
    if compiled == nil {
      let network = self.network
      compiled = try CompiledFunction { [try network($0[0])] }
    }
    return try compiled!([x])[0]
  }

  /// Where the FID weights are, or an error saying how to get them.
  public static func defaultWeights() throws -> URL {
    if let env = ProcessInfo.processInfo.environment["MASKDM_FID_WEIGHTS"], !env.isEmpty { return URL(fileURLWithPath: env) }
    var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
    starts.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
    for start in starts {
      var dir = start.standardizedFileURL
      for _ in 0..<8 {
        let candidate = dir.appendingPathComponent(".deps/fid/default_1.pt")
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
      }
    }
    throw UntrustedFileError("the FID network default_1.pt was not found: run `make` (scripts/bootstrap.sh) or set MASKDM_FID_WEIGHTS")
  }

  /// (N, H, W, C) uint8 -> (N, 299, 299, 3) float in 0...255, TF1-resized (or by `mode`).
  public static func resize(_ images: Tensor, mode: FIDResize = .ttur) throws -> Tensor {
    let s = images.shape
    let (h, w) = (s[1], s[2])
    var x = try images.astype(.float32)
    if s[3] == 1 { x = try x.broadcast(to: [s[0], h, w, 3]) }
    let out = inputSize
    let ry = try Tensor(mode.matrix(from: h, to: out), shape: [out, h])
    let rx = try Tensor(mode.matrix(from: w, to: out), shape: [out, w])
    let nchw = try x.transposed([0, 3, 1, 2])  // (N, 3, H, W)
    var resized = try ry.matmul(nchw).matmul(rx.transposed())  // (N, 3, 299, 299)
    if mode.clips { resized = try resized.maximum(Tensor.scalar(0)).minimum(Tensor.scalar(255)) }
    return try resized.transposed([0, 2, 3, 1]).rowMajor()  // laid out once for the convolutions
  }

  /// The network's input for (count, height, width, channels) uint8 bytes: resized, scaled to [-1, 1].
  static func networkInput(images: [UInt8], count: Int, height: Int, width: Int, channels: Int, mode: FIDResize = .ttur) throws -> Tensor {
    let batch = try images.withUnsafeBytes { try Tensor(bytes: $0, shape: [count, height, width, channels], dtype: .uint8) }
    return try resize(batch, mode: mode) / 128 - 1
  }

  /// Images per pass through the network on the CPU; the GPU takes a whole batch in one pass. A study
  /// hands in its sampling batch (64), and a pass of 64 ran at 11.7 img/s against 13-14.6 for passes of
  /// 4 to 16 (`bench fid`, docs/performance.md "FID features in passes of 8"): the feature maps of 64
  /// images, up to 354 MB a layer, each take a fresh mapping of memory that the kernel zeroes, and
  /// stream through the caches once per layer.
  public var cpuPassSize = 8

  /// Features of `count` images given as (count, height, width, channels) uint8 bytes: count x 2048.
  public func features(images: [UInt8], count: Int, height: Int, width: Int, channels: Int) throws -> [Float] {
    let pass = Engine.device == .gpu ? count : max(1, cpuPassSize)
    let imageBytes = height * width * channels
    // A byte count that does not match the shape goes to the one pass, whose tensor refuses it by name.
    guard count > pass, images.count == count * imageBytes else {
      return try onePass(images: images, count: count, height: height, width: width, channels: channels)
    }
    var features: [Float] = []
    features.reserveCapacity(count * Self.dimension)
    for first in stride(from: 0, to: count, by: pass) {
      let n = min(pass, count - first)
      let part = Array(images[first * imageBytes ..< (first + n) * imageBytes])
      features += try onePass(images: part, count: n, height: height, width: width, channels: channels)
    }
    return features
  }

  private func onePass(images: [UInt8], count: Int, height: Int, width: Int, channels: Int) throws -> [Float] {
    try Engine.run {
      let x = try Self.networkInput(images: images, count: count, height: height, width: width, channels: channels, mode: resizeMode)
      let f = try forward(x).reshaped([count, InceptionFeatureExtractor.dimension])
      return try f.floats()
    }
  }
}

extension InceptionFeatureExtractor {
  /// Where a batch's time goes: the resize, then each top-level stage of the network, each evaluated
  /// on its own (MLX's eval waits for the device), as (label, seconds). On the GPU slower than
  /// `features` (no compiled graph, no overlap between stages); for finding the expensive stage, not
  /// for throughput.
  public func stageSeconds(images: [UInt8], count: Int, height: Int, width: Int, channels: Int) throws -> [(String, Double)] {
    try Engine.run {
      func timed(_ label: String, _ body: () throws -> Tensor) throws -> (Tensor, (String, Double)) {
        let start = DispatchTime.now().uptimeNanoseconds
        let y = try body()
        try eval(y)
        return (y, (label, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
      }
      let (resized, first) = try timed("upload + resize") {
        try Self.networkInput(images: images, count: count, height: height, width: width, channels: channels, mode: resizeMode)
      }
      var x = resized, stages = [first]
      for node in network.stages {
        let (y, stage) = try timed(node.label) { try node(x) }
        stages.append((stage.0 + " -> " + y.shape.dropFirst().map(String.init).joined(separator: "x"), stage.1))
        x = y
      }
      return stages
    }
  }
}

extension InceptionNode {
  /// The top-level stages in order: nested sequences flattened.
  var stages: [InceptionNode] {
    if case let .sequence(inner) = self { return inner.flatMap(\.stages) }
    return [self]
  }

  /// A short description for stage timings.
  var label: String {
    switch self {
    case let .conv(weight, _, stride, _):
      let s = weight.shape
      return "conv \(s[1])x\(s[2])/\(stride)"
    case let .pool(isMax, k, s, _, _): return "\(isMax ? "max" : "avg")pool \(k)/\(s)"
    case let .sequence(nodes): return "sequence of \(nodes.count)"
    case let .branches(nodes): return "mixed, \(nodes.count) branches"
    case .inceptionE: return "mixed E"
    }
  }
}
