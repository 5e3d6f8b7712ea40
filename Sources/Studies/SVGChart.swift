// Small inline SVG charts for the HTML report (no scripts, no network): FID against training time
// with 95% error bars, and loss curves against training time (masked stages dashed). Axes end on round
// ticks (1, 2 or 5 × 10^k), the steps a reader can add up in their head.
import Foundation

/// One labelled series of (x, y) points, optionally with a vertical interval per point.
struct ChartSeries {
  var label: String
  var points: [(Double, Double)]
  /// (low, high) of y for each point (an error bar), or nil.
  var intervals: [(Double, Double)?] = []
  /// Drawn dashed (a masked stage).
  var dashed = false
  /// The colour's index in the palette (nil: the series' own index); series of one variant share it.
  var colour: Int?
  /// Whether the legend lists it (the second and later pieces of one variant do not).
  var inLegend = true
  /// The intervals drawn as a shaded band along the line instead of error bars.
  var band = false
}

/// A horizontal reference line across the plot (a target value), dashed and labelled.
struct ChartLine {
  var y: Double
  var label: String
}

/// A chart with linear axes, round ticks, a legend and one colour per series.
struct SVGChart {
  var title: String
  var xLabel: String
  var yLabel: String
  var series: [ChartSeries]
  /// Points only (scatter) or connected lines.
  var lines: Bool
  var width = 640.0
  var height = 360.0
  /// A line under the chart (what the bars mean, what dashes mean).
  var note: String?
  /// The x axis starts at 0 (training time: variants of one budget differ by the machine's noise only,
  /// which a tight axis would magnify).
  var xFromZero = false
  /// A dashed horizontal line (the target FID of a time-to-target study).
  var horizontalLine: ChartLine? = nil

  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

  /// Where the plot area is and how values map onto it.
  struct Frame {
    let left, top, pw, ph: Double
    let x0, x1, y0, y1: Double
    func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
    func py(_ y: Double) -> Double { top + ph - (y - y0) / (y1 - y0) * ph }
  }

  func render() -> String {
    let (left, right, top, bottom) = (64.0, 180.0, 32.0, note == nil ? 48.0 : 64.0)
    let pw = width - left - right, ph = height - top - bottom
    let all = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
    let bars = series.flatMap { $0.intervals.compactMap { $0 } }.flatMap { [$0.0, $0.1] }.filter(\.isFinite)
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
      + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">"
    svg += "<title>\(escapeHTML(title))</title><rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    svg += "<text x=\"\(left)\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(escapeHTML(title))</text>"
    guard !all.isEmpty else { return svg + "<text x=\"\(left)\" y=\"\(top + ph / 2)\">no data yet</text></svg>" }
    let xs = all.map(\.0)
    let xTicks = roundTicks(xFromZero ? (0, max(xs.max()!, 1e-9)) : dataRange(xs))
    let yTicks = roundTicks(dataRange(all.map(\.1) + bars + [horizontalLine?.y].compactMap { $0 }.filter(\.isFinite)))
    let f = Frame(left: left, top: top, pw: pw, ph: ph, x0: xTicks.first!, x1: xTicks.last!, y0: yTicks.first!, y1: yTicks.last!)
    svg += axes(f, xTicks, yTicks)
    var legendRow = 0
    for (i, s) in series.enumerated() {
      let colour = Self.palette[(s.colour ?? i) % Self.palette.count]
      svg += marks(of: s, colour: colour, f)
      guard s.inLegend else { continue }
      let ly = top + 6 + Double(legendRow) * 16
      legendRow += 1
      svg += "<rect x=\"\(left + pw + 12)\" y=\"\(ly)\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
      svg += "<text x=\"\(left + pw + 26)\" y=\"\(ly + 9)\">\(escapeHTML(String(s.label.prefix(26))))</text>"
    }
    return svg + "</svg>"
  }

  /// The frame, ticks, axis labels, note and the horizontal line.
  private func axes(_ f: Frame, _ xTicks: [Double], _ yTicks: [Double]) -> String {
    let (left, top, pw, ph) = (f.left, f.top, f.pw, f.ph)
    var svg = "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#888\"/>"
    for xv in xTicks {
      svg += "<line x1=\"\(f.px(xv))\" y1=\"\(top + ph)\" x2=\"\(f.px(xv))\" y2=\"\(top + ph + 4)\" stroke=\"#888\"/>"
      svg += "<text x=\"\(f.px(xv))\" y=\"\(top + ph + 16)\" text-anchor=\"middle\">\(tickLabel(xv))</text>"
    }
    for yv in yTicks {
      svg += "<line x1=\"\(left - 4)\" y1=\"\(f.py(yv))\" x2=\"\(left + pw)\" y2=\"\(f.py(yv))\" stroke=\"#eee\"/>"
      svg += "<text x=\"\(left - 6)\" y=\"\(f.py(yv) + 4)\" text-anchor=\"end\">\(tickLabel(yv))</text>"
    }
    svg += "<text x=\"\(left + pw / 2)\" y=\"\(top + ph + 34)\" text-anchor=\"middle\">\(escapeHTML(xLabel))</text>"
    svg += "<text transform=\"translate(14 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escapeHTML(yLabel))</text>"
    if let note { svg += "<text x=\"\(left)\" y=\"\(height - 8)\" font-size=\"10\" fill=\"#555\">\(escapeHTML(note))</text>" }
    if let line = horizontalLine, line.y.isFinite {
      svg += String(format: "<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\" stroke-dasharray=\"6 4\"/>",
                    left, f.py(line.y), left + pw, f.py(line.y))
      svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">", left + pw - 4, f.py(line.y) - 4)
        + escapeHTML(line.label) + "</text>"
    }
    return svg
  }

  /// One series: its band, its line or points, and its error bars.
  private func marks(of s: ChartSeries, colour: String, _ f: Frame) -> String {
    var svg = ""
    let pts = s.points.filter { $0.0.isFinite && $0.1.isFinite }
    if s.band {
      // The band: the upper bounds left to right, then the lower bounds back.
      let bounds = zip(s.points, s.intervals).compactMap { p, bar -> (Double, Double, Double)? in
        guard let (lo, hi) = bar, lo.isFinite, hi.isFinite, p.0.isFinite else { return nil }
        return (p.0, lo, hi)
      }
      if bounds.count > 1 {
        let outline = bounds.map { String(format: "%.1f,%.1f", f.px($0.0), f.py($0.2)) } + bounds.reversed().map { String(format: "%.1f,%.1f", f.px($0.0), f.py($0.1)) }
        svg += "<polygon class=\"band\" points=\"\(outline.joined(separator: " "))\" fill=\"\(colour)\" fill-opacity=\"0.18\" stroke=\"none\"/>"
      }
    }
    if lines, pts.count > 1 {
      let path = pts.map { String(format: "%.1f,%.1f", f.px($0.0), f.py($0.1)) }.joined(separator: " ")
      svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\""
        + (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>"
      // A curve of measured points (not a dense loss curve) shows where its measurements are.
      if s.band { for p in pts { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>", f.px(p.0), f.py(p.1), colour) } }
    } else {
      for p in pts { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%@\"/>", f.px(p.0), f.py(p.1), colour) }
    }
    for (p, bar) in zip(s.points, s.intervals) where !s.band {
      guard let (lo, hi) = bar, lo.isFinite, hi.isFinite, p.0.isFinite else { continue }
      let x = f.px(p.0)
      svg += String(format: "<path class=\"errorbar\" d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"%@\" stroke-width=\"1.5\"/>",
                    x, f.py(lo), f.py(hi), x - 5, f.py(lo), x + 5, x - 5, f.py(hi), x + 5, colour)
    }
    return svg
  }

  /// The range the axis must show. Values that all but coincide (variants trained for the same time
  /// budget) get the range from 0, so that the axis does not magnify measurement noise.
  private func dataRange(_ values: [Double]) -> (Double, Double) {
    let lo = values.min()!, hi = values.max()!
    if hi - lo < 1e-12 && abs(hi) < 1e-12 { return (lo - 1, hi + 1) }
    if hi - lo <= 0.01 * max(abs(lo), abs(hi)) { return lo > 0 ? (0, hi) : (min(lo, hi - 1), max(hi, lo + 1)) }
    return (lo, hi)
  }
}

/// Four to eight ticks a round step apart (1, 2 or 5 × 10^k) from a multiple of the step at or below
/// `range.0` to one at or above `range.1`.
func roundTicks(_ range: (Double, Double), target: Int = 5) -> [Double] {
  let (lo, hi) = range
  guard hi > lo else { return [lo - 1, lo, lo + 1] }
  let raw = (hi - lo) / Double(target)
  let magnitude = pow(10, floor(log10(raw)))
  let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw }!
  let first = floor(lo / step + 1e-9) * step, last = ceil(hi / step - 1e-9) * step
  return stride(from: 0, through: Int(((last - first) / step).rounded()), by: 1).map { first + Double($0) * step }
}

/// A tick's text: as few digits as the round step needs.
func tickLabel(_ v: Double) -> String {
  if v == v.rounded() && abs(v) < 1e15 { return String(format: "%.0f", v) }
  var s = String(format: "%.6f", v)
  while s.hasSuffix("0") { s.removeLast() }
  return s
}
