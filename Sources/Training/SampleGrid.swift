// Sample images to PNG files: a grid for people to look at, or one file per image for FID.
import Datasets
import Engine
import Foundation

/// (B, C, H, W) images in [-1, 1] as (B, H, W, C) uint8 bytes.
public func imageBytes(_ images: Tensor) throws -> (pixels: [UInt8], count: Int, height: Int, width: Int, channels: Int) {
  let s = images.shape
  let u8 = try ((images.clip(-1, 1) + 1) * 127.5).rounded().transposed([0, 2, 3, 1]).astype(.uint8)
  return (try u8.toArray(UInt8.self), s[0], s[2], s[3], s[1])
}

/// Writes images as a grid with a 2-pixel gutter, row by row: `columns` wide (e.g. one row per
/// class), or near-square when nil; every pixel `scale` x `scale` times (nearest neighbour, so that a
/// report shows 32-pixel samples large enough to see without a viewer blurring them).
public func writeGrid(_ images: Tensor, to url: URL, columns: Int? = nil, scale: Int = 1) throws {
  let (pixels, n, h, w, c) = try imageBytes(images)
  let columns = max(1, columns ?? Int(Double(n).squareRoot().rounded(.up)))
  let rows = (n + columns - 1) / columns
  let gutter = 2
  let gw = columns * (w + gutter) + gutter, gh = rows * (h + gutter) + gutter
  var grid = [UInt8](repeating: 255, count: gw * gh * c)
  for i in 0..<n {
    let ox = gutter + (i % columns) * (w + gutter), oy = gutter + (i / columns) * (h + gutter)
    for y in 0..<h {
      let src = (i * h + y) * w * c
      let dst = ((oy + y) * gw + ox) * c
      grid.replaceSubrange(dst..<(dst + w * c), with: pixels[src..<(src + w * c)])
    }
  }
  let scale = max(1, scale)
  let big = upscaled(grid, width: gw, height: gh, channels: c, by: scale)
  try writeAtomically(Data(try encodePNG(pixels: big, width: gw * scale, height: gh * scale, channels: c)), to: url)
}

/// (height, width, channels) bytes with every pixel repeated `factor` x `factor` times.
func upscaled(_ pixels: [UInt8], width: Int, height: Int, channels: Int, by factor: Int) -> [UInt8] {
  guard factor > 1 else { return pixels }
  let row = width * channels
  var out: [UInt8] = []
  out.reserveCapacity(pixels.count * factor * factor)
  for y in 0..<height {
    var wide: [UInt8] = []
    wide.reserveCapacity(row * factor)
    for x in 0..<width {
      let pixel = pixels[(y * row + x * channels)..<(y * row + (x + 1) * channels)]
      for _ in 0..<factor { wide += pixel }
    }
    for _ in 0..<factor { out += wide }
  }
  return out
}

/// Writes each image as `prefix-NNNNN.png` in `directory`, numbering from `start`.
public func writeImages(_ images: Tensor, to directory: URL, start: Int, prefix: String = "sample") throws {
  let (pixels, n, h, w, c) = try imageBytes(images)
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  let size = h * w * c
  for i in 0..<n {
    let png = try encodePNG(pixels: Array(pixels[(i * size)..<((i + 1) * size)]), width: w, height: h, channels: c)
    try writeAtomically(Data(png), to: directory.appendingPathComponent(String(format: "\(prefix)-%05d.png", start + i)))
  }
}
