// Geometric preprocessing on 8-bit HWC images: crops, resizing (area averaging when shrinking,
// bilinear when enlarging), zero padding and channel conversion.
import Foundation

/// Which part of an image to keep before resizing.
public enum CropMode: Codable, Equatable, Sendable {
  case none
  /// The largest centred square.
  case center
  /// A box: left, top, width, height (clamped to the image).
  case box(x: Int, y: Int, width: Int, height: Int)
  /// U-ViT's CelebA-64 recipe: the 128x128 box centred at (x 89, y 121) of img_align_celeba.
  case celebA64
}

extension DecodedImage {
  /// The sub-image `x ..< x+w`, `y ..< y+h`, clamped to the image.
  public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> DecodedImage {
    let x0 = max(0, min(x, width)), y0 = max(0, min(y, height))
    let x1 = max(x0, min(x + w, width)), y1 = max(y0, min(y + h, height))
    var out = [UInt8]()
    out.reserveCapacity((x1 - x0) * (y1 - y0) * channels)
    for row in y0..<y1 {
      let start = (row * width + x0) * channels
      out += pixels[start..<(start + (x1 - x0) * channels)]
    }
    return DecodedImage(width: x1 - x0, height: y1 - y0, channels: channels, pixels: out)
  }

  public func cropped(_ mode: CropMode) -> DecodedImage {
    switch mode {
    case .none: return self
    case .center:
      let s = min(width, height)
      return cropped(x: (width - s) / 2, y: (height - s) / 2, width: s, height: s)
    case let .box(x, y, w, h): return cropped(x: x, y: y, width: w, height: h)
    case .celebA64: return cropped(x: 89 - 64, y: 121 - 64, width: 128, height: 128)
    }
  }

  /// Resized to `w` x `h`: each output pixel averages the source area it covers when shrinking
  /// (antialiased), bilinear interpolation (half-pixel centres) when enlarging.
  public func resized(width w: Int, height h: Int) -> DecodedImage {
    if w == width && h == height { return self }
    var out = [UInt8](repeating: 0, count: w * h * channels)
    let sx = Double(width) / Double(w), sy = Double(height) / Double(h)
    for oy in 0..<h {
      for ox in 0..<w {
        for c in 0..<channels {
          var value = 0.0
          if sx >= 1 && sy >= 1 {
            // Area average over [ox*sx, (ox+1)*sx) x [oy*sy, (oy+1)*sy) with fractional edge weights.
            let (x0, x1, y0, y1) = (Double(ox) * sx, Double(ox + 1) * sx, Double(oy) * sy, Double(oy + 1) * sy)
            var total = 0.0
            for iy in Int(y0)..<min(Int(y1.rounded(.up)), height) {
              let wy = min(Double(iy + 1), y1) - max(Double(iy), y0)
              for ix in Int(x0)..<min(Int(x1.rounded(.up)), width) {
                let wx = min(Double(ix + 1), x1) - max(Double(ix), x0)
                value += wx * wy * Double(pixels[(iy * width + ix) * channels + c])
                total += wx * wy
              }
            }
            value /= max(total, 1e-12)
          } else {
            let fx = max(0, (Double(ox) + 0.5) * sx - 0.5), fy = max(0, (Double(oy) + 0.5) * sy - 0.5)
            let x0 = min(Int(fx), width - 1), y0 = min(Int(fy), height - 1)
            let x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1)
            let (ax, ay) = (fx - Double(x0), fy - Double(y0))
            func p(_ x: Int, _ y: Int) -> Double { Double(pixels[(y * width + x) * channels + c]) }
            value = (p(x0, y0) * (1 - ax) + p(x1, y0) * ax) * (1 - ay) + (p(x0, y1) * (1 - ax) + p(x1, y1) * ax) * ay
          }
          out[(oy * w + ox) * channels + c] = UInt8(max(0, min(255, value.rounded())))
        }
      }
    }
    return DecodedImage(width: w, height: h, channels: channels, pixels: out)
  }

  /// Zero-padded by `amount` pixels on every side.
  public func padded(_ amount: Int) -> DecodedImage {
    let (w, h) = (width + 2 * amount, height + 2 * amount)
    var out = [UInt8](repeating: 0, count: w * h * channels)
    for y in 0..<height {
      let src = y * width * channels, dst = ((y + amount) * w + amount) * channels
      out.replaceSubrange(dst..<(dst + width * channels), with: pixels[src..<(src + width * channels)])
    }
    return DecodedImage(width: w, height: h, channels: channels, pixels: out)
  }

  /// Converted to 1 channel (ITU-R 601 luma) or 3 (gray replicated).
  public func withChannels(_ n: Int) -> DecodedImage {
    if n == channels { return self }
    let count = width * height
    if n == 3 {
      var out = [UInt8](repeating: 0, count: count * 3)
      for i in 0..<count { for c in 0..<3 { out[i * 3 + c] = pixels[i] } }
      return DecodedImage(width: width, height: height, channels: 3, pixels: out)
    }
    let out = (0..<count).map { i -> UInt8 in
      let r = Double(pixels[i * 3]), g = Double(pixels[i * 3 + 1]), b = Double(pixels[i * 3 + 2])
      return UInt8(max(0, min(255, (0.299 * r + 0.587 * g + 0.114 * b).rounded())))
    }
    return DecodedImage(width: width, height: height, channels: 1, pixels: out)
  }
}
