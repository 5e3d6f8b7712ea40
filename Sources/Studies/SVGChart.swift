// Small inline SVG charts for the HTML report (no scripts, no network): a scatter of FID against
// training time and line charts of loss curves.
import Foundation

/// One labelled series of (x, y) points.
struct ChartSeries {
  var label: String
  var points: [(Double, Double)]
}

/// A chart with linear axes, ticks, a legend and one colour per series.
struct SVGChart {
  var title: String
  var xLabel: String
  var yLabel: String
  var series: [ChartSeries]
  /// Points only (scatter) or connected lines.
  var lines: Bool
  var width = 640.0
  var height = 360.0

  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

  func render() -> String {
    let (left, right, top, bottom) = (64.0, 180.0, 32.0, 48.0)
    let pw = width - left - right, ph = height - top - bottom
    let all = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
      + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">"
    svg += "<title>\(escapeHTML(title))</title><rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    svg += "<text x=\"\(left)\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(escapeHTML(title))</text>"
    guard !all.isEmpty else { return svg + "<text x=\"\(left)\" y=\"\(top + ph / 2)\">no data yet</text></svg>" }
    let (x0, x1) = niceRange(all.map(\.0)), (y0, y1) = niceRange(all.map(\.1))
    func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
    func py(_ y: Double) -> Double { top + ph - (y - y0) / (y1 - y0) * ph }
    svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#888\"/>"
    for i in 0...4 {
      let xv = x0 + (x1 - x0) * Double(i) / 4, yv = y0 + (y1 - y0) * Double(i) / 4
      svg += "<line x1=\"\(px(xv))\" y1=\"\(top + ph)\" x2=\"\(px(xv))\" y2=\"\(top + ph + 4)\" stroke=\"#888\"/>"
      svg += "<text x=\"\(px(xv))\" y=\"\(top + ph + 16)\" text-anchor=\"middle\">\(tick(xv))</text>"
      svg += "<line x1=\"\(left - 4)\" y1=\"\(py(yv))\" x2=\"\(left + pw)\" y2=\"\(py(yv))\" stroke=\"#eee\"/>"
      svg += "<text x=\"\(left - 6)\" y=\"\(py(yv) + 4)\" text-anchor=\"end\">\(tick(yv))</text>"
    }
    svg += "<text x=\"\(left + pw / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">\(escapeHTML(xLabel))</text>"
    svg += "<text transform=\"translate(14 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escapeHTML(yLabel))</text>"
    for (i, s) in series.enumerated() {
      let colour = Self.palette[i % Self.palette.count]
      let pts = s.points.filter { $0.0.isFinite && $0.1.isFinite }
      if lines, pts.count > 1 {
        let path = pts.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
        svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>"
      } else {
        for p in pts { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%@\"/>", px(p.0), py(p.1), colour) }
      }
      let ly = top + 6 + Double(i) * 16
      svg += "<rect x=\"\(left + pw + 12)\" y=\"\(ly)\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
      svg += "<text x=\"\(left + pw + 26)\" y=\"\(ly + 9)\">\(escapeHTML(String(s.label.prefix(26))))</text>"
    }
    return svg + "</svg>"
  }

  /// The data range widened by 5%. Values that all but coincide (variants trained for the same time
  /// budget) get the range from 0, so that the axis does not magnify measurement noise.
  private func niceRange(_ values: [Double]) -> (Double, Double) {
    let lo = values.min()!, hi = values.max()!
    if hi - lo < 1e-12 && abs(hi) < 1e-12 { return (lo - 1, hi + 1) }
    if hi - lo <= 0.01 * max(abs(lo), abs(hi)) { return lo > 0 ? (0, hi * 1.1) : (min(lo * 1.1, hi - 1), max(hi * 1.1, lo + 1)) }
    let pad = (hi - lo) * 0.05
    return (lo >= 0 ? max(0, lo - pad) : lo - pad, hi + pad)  // counts and times do not go below 0
  }

  private func tick(_ v: Double) -> String {
    let a = abs(v)
    if a >= 1000 { return String(format: "%.0f", v) }
    if a >= 10 { return String(format: "%.1f", v) }
    return String(format: "%.3g", v)
  }
}

func escapeHTML(_ s: String) -> String {
  s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
