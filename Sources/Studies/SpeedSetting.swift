// What decides a training step's speed, typed: the key of a calibration's rates. Plans and
// calibration.json write it as one line ("32px p4 c1 d64x5 h2 mlp4 batch 64, patch 0.9, fp32 auto"),
// which is read back into this form, so that rates are looked up by the setting, not by its text.
import Engine
import Foundation
import Training

/// A stage setting as far as its training speed goes: image and patch size, channels, width, depth,
/// heads, MLP ratio, batch, the mask (kind and ratio), precision, device and compilation. Settings that
/// do not change the work of a step (seed, learning rate, objective, schedule, position embedding,
/// which images) are left out, so stages that differ only in them share one calibration.
public struct SpeedSetting: Hashable, Sendable, CustomStringConvertible {
  /// The mask of a masked stage (`unmasked` otherwise); the size is a block's or a crop's (-1: sized by the rate).
  public enum Mask: Hashable, Sendable {
    case unmasked
    case masked(MaskType, ratio: Double, size: Int?)
  }

  public var imageSize, patchSize, channels, embedDim, depth, heads: Int
  /// The MLP ratio, as the one line writes it (`%g`: six significant digits).
  public var mlpRatio: Double
  public var batch: Int
  public var mask: Mask
  public var precision: Precision
  public var device: DeviceChoice
  public var compiled: Bool

  public init(_ c: TrainConfig) {
    let n = c.network
    (imageSize, patchSize, channels, embedDim, depth, heads) = (n.imageSize, n.patchSize, n.channels, n.embedDim, n.depth, n.numHeads)
    (mlpRatio, batch, precision, device, compiled) = (Self.rounded(n.mlpRatio), c.batchSize, c.precision, c.device, c.compile)
    let kind = c.dataset.mask
    // The line writes a block's or a crop's size, the authors' -1 when it has none.
    mask = c.isMasked ? .masked(kind.type, ratio: Self.rounded(c.dataset.maskRatio), size: kind.type == .patch ? nil : kind.size(of: kind.type) ?? -1) : .unmasked
  }

  /// A number as the line writes it and reads it back (so that a setting and its line are one key).
  static func rounded(_ v: Double) -> Double { Double(gFormat(v)) ?? v }

  /// The one line plans and calibration.json write: "32px p4 c1 d64x5 h2 mlp4 batch 64, patch 0.9, fp32 auto".
  public var description: String {
    var maskText = "unmasked"
    if case let .masked(type, ratio, size) = mask {
      maskText = "\(type) \(gFormat(ratio))" + (size.map { type == .block ? " b\($0)" : " c\($0)" } ?? "")
    }
    return "\(imageSize)px p\(patchSize) c\(channels) d\(embedDim)x\(depth) h\(heads) mlp\(gFormat(mlpRatio)) batch \(batch), "
      + "\(maskText), \(precision) \(device)\(compiled ? "" : " eager")"
  }

  /// The setting a line names; nil when the line is not one this tool writes.
  public init?(line: String) {
    let parts = line.components(separatedBy: ", ")
    guard parts.count == 3 else { return nil }
    let net = parts[0].split(separator: " ").map(String.init)
    guard net.count == 8, net[6] == "batch", let sizes = Self.network(net), let batch = Int(net[7]),
          let mask = Self.mask(parts[1]) else { return nil }
    let tail = parts[2].split(separator: " ").map(String.init)
    guard (2...3).contains(tail.count), tail.count == 2 || tail[2] == "eager",
          let precision = Precision.allCases.first(where: { "\($0)" == tail[0] }),
          let device = DeviceChoice.allCases.first(where: { "\($0)" == tail[1] }) else { return nil }
    (imageSize, patchSize, channels, embedDim, depth, heads, mlpRatio) = sizes
    (self.batch, self.mask, self.precision, self.device, compiled) = (batch, mask, precision, device, tail.count == 2)
  }

  /// "32px p4 c1 d64x5 h2 mlp4": image, patch, channels, width x depth, heads, MLP ratio.
  private static func network(_ w: [String]) -> (Int, Int, Int, Int, Int, Int, Double)? {
    func number(_ word: String, _ prefix: String, _ suffix: String = "") -> String? {
      guard word.hasPrefix(prefix), word.hasSuffix(suffix), word.count > prefix.count + suffix.count else { return nil }
      return String(word.dropFirst(prefix.count).dropLast(suffix.count))
    }
    let dims = number(w[3], "d")?.split(separator: "x").compactMap { Int($0) } ?? []
    guard let image = number(w[0], "", "px").flatMap({ Int($0) }), let patch = number(w[1], "p").flatMap({ Int($0) }),
          let channels = number(w[2], "c").flatMap({ Int($0) }), dims.count == 2, let heads = number(w[4], "h").flatMap({ Int($0) }),
          let mlp = number(w[5], "mlp").flatMap({ Double($0) }) else { return nil }
    return (image, patch, channels, dims[0], dims[1], heads, mlp)
  }

  /// "unmasked", "patch 0.9", "block 0.5 b4", "crop 0.9 c-1".
  private static func mask(_ text: String) -> Mask? {
    if text == "unmasked" { return .unmasked }
    let w = text.split(separator: " ").map(String.init)
    guard (2...3).contains(w.count), let type = MaskType(rawValue: w[0]), let ratio = Double(w[1]) else { return nil }
    guard w.count == 3 else { return type == .patch ? .masked(.patch, ratio: ratio, size: nil) : nil }
    guard type != .patch, w[2].hasPrefix(type == .block ? "b" : "c"), let size = Int(w[2].dropFirst()) else { return nil }
    return .masked(type, ratio: ratio, size: size)
  }
}
