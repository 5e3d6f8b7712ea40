// How images reach the Inception network's 299x299 input, the step where FID protocols differ:
//   ttur   TF1's bilinear resize (align_corners False, no half-pixel centres, no antialiasing): the TTUR
//          protocol of Heusel et al. (2017) and of the TF-FID code most diffusion papers ran, the default
//   clean  PIL's bicubic resize with antialiasing, per channel on float values, clipped to 0...255:
//          clean-fid's "clean" mode (Parmar et al., "On Aliased Resizing and Surprising Subtleties in
//          GAN Evaluation", CVPR 2022; `make_resizer("PIL", False, "bicubic", (299, 299))`)
// Both are separable, so each is one (out, in) matrix per axis (see `InceptionFeatureExtractor.resize`).
import Foundation

/// The resize of a FID protocol.
public enum FIDResize: String, CaseIterable, Codable, Sendable {
  case ttur, clean

  /// "ttur (TF1 bilinear)", "clean (PIL bicubic, antialiased, as clean-fid)": for reports and messages.
  public var label: String {
    switch self {
    case .ttur: return "ttur (TF1 bilinear)"
    case .clean: return "clean (PIL bicubic, antialiased, as clean-fid)"
    }
  }

  /// The (out, in) matrix of this resize along one axis.
  func matrix(from input: Int, to output: Int) -> [Float] {
    switch self {
    case .ttur: return tf1ResizeMatrix(from: input, to: output)
    case .clean: return pilBicubicResizeMatrix(from: input, to: output)
    }
  }

  /// Whether values are clipped to 0...255 after the resize (bicubic overshoots; clean-fid clips).
  var clips: Bool { self == .clean }
}

/// The (out, in) matrix of PIL's bicubic resample along one axis (Pillow's `Resample.c`,
/// `precompute_coeffs` with `bicubic_filter`, a = -0.5): output pixel i is centred on source position
/// (i + 0.5) * in / out; when shrinking, the kernel is stretched by in / out (the antialiasing), and the
/// taps are normalised to sum to 1. Computed in double, as Pillow does.
func pilBicubicResizeMatrix(from input: Int, to output: Int) -> [Float] {
  func bicubic(_ v: Double) -> Double {
    let a = -0.5, x = abs(v)
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
  }
  var m = [Float](repeating: 0, count: output * input)
  let scale = Double(input) / Double(output)
  let filterScale = max(scale, 1)
  let support = 2 * filterScale
  for i in 0..<output {
    let center = (Double(i) + 0.5) * scale
    // Pillow truncates toward zero: (int)(center - support + 0.5), then clamps to the image.
    let lo = max(Int(center - support + 0.5), 0)
    let hi = min(Int(center + support + 0.5), input)
    var weights: [Double] = []
    for x in lo..<max(hi, lo) { weights.append(bicubic((Double(x) - center + 0.5) / filterScale)) }
    let total = weights.reduce(0, +)
    for (k, w) in weights.enumerated() { m[i * input + lo + k] = Float(total != 0 ? w / total : w) }
  }
  return m
}
