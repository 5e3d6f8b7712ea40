// FID features by the TTUR protocol: uint8 RGB (gray replicated) -> float -> TF1 bilinear resize to
// 299x299 (align_corners False, no half-pixel centres: source = dst * in / out, clamped at the border,
// no antialiasing) -> v / 128 - 1 -> the TF-FID Inception-v3 -> 2048 features per image.
import Engine
import Foundation

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

  /// Loads `weights` (default: $MASKDM_FID_WEIGHTS, else .deps/fid/default_1.pt found from the current
  /// directory or the executable's upwards).
  public init(weights: URL? = nil) throws {
    let url = try weights ?? InceptionFeatureExtractor.defaultWeights()
    network = try Engine.run { try buildInception(try TorchFile(contentsOf: url)) }
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

  /// (N, H, W, C) uint8 -> (N, 299, 299, 3) float in 0...255, TF1-resized.
  public static func resize(_ images: Tensor) throws -> Tensor {
    let s = images.shape
    let (h, w) = (s[1], s[2])
    var x = try images.astype(.float32)
    if s[3] == 1 { x = try x.broadcast(to: [s[0], h, w, 3]) }
    let out = inputSize
    let ry = try Tensor(tf1ResizeMatrix(from: h, to: out), shape: [out, h])
    let rx = try Tensor(tf1ResizeMatrix(from: w, to: out), shape: [out, w])
    let nchw = try x.transposed([0, 3, 1, 2])  // (N, 3, H, W)
    let resized = try ry.matmul(nchw).matmul(rx.transposed())  // (N, 3, 299, 299)
    return try resized.transposed([0, 2, 3, 1]).rowMajor()  // laid out once for the convolutions
  }

  /// Features of `count` images given as (count, height, width, channels) uint8 bytes: count x 2048.
  public func features(images: [UInt8], count: Int, height: Int, width: Int, channels: Int) throws -> [Float] {
    try Engine.run {
      let batch = try images.withUnsafeBytes { try Tensor(bytes: $0, shape: [count, height, width, channels], dtype: .uint8) }
      let x = try InceptionFeatureExtractor.resize(batch) / 128 - 1
      let f = try network(x).reshaped([count, InceptionFeatureExtractor.dimension])
      return try f.floats()
    }
  }
}
