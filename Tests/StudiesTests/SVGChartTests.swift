// The report's inline charts: axes that show the data, not the noise of equal time budgets.
import Foundation
import XCTest
@testable import Studies

final class SVGChartTests: XCTestCase {
  func ticks(_ svg: String) -> [String] {
    let pattern = try! NSRegularExpression(pattern: "text-anchor=\"middle\">([-0-9.]+)</text>")
    return pattern.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map { String(svg[Range($0.range(at: 1), in: svg)!]) }
  }

  func testEqualBudgetsShareAnAxisFromZero() {
    // Variants compared at equal time differ in training seconds by measurement noise only.
    let chart = SVGChart(title: "FID against training time", xLabel: "s", yLabel: "FID",
                         series: [ChartSeries(label: "a", points: [(90.02, 112)]), ChartSeries(label: "b", points: [(90.07, 146)])],
                         lines: false)
    XCTAssertEqual(ticks(chart.render()).first, "0")
    let spread = SVGChart(title: "t", xLabel: "s", yLabel: "FID",
                          series: [ChartSeries(label: "a", points: [(30, 112), (90, 146)])], lines: false)
    XCTAssertNotEqual(ticks(spread.render()).first, "0", "a real spread keeps its own range")
  }
}
