// The report's view of FID along training: per study the FID-against-training-time curves (mean line,
// 95% band over seeds).
import Foundation

extension StudyReport {
  /// FID along training of a study's rows: mean over seeds, its 95% band, the target FID as a line.
  func curveChart(_ study: String, _ rows: [(String, VariantSummary)]) -> SVGChart? {
    let series = rows.enumerated().compactMap { i, row -> ChartSeries? in
      let (label, s) = row
      guard !s.curve.isEmpty else { return nil }
      let band = s.curve.map { p in p.fid.low.flatMap { lo in p.fid.high.map { (lo, $0) } } }
      return ChartSeries(label: label, points: s.curve.map { ($0.trainingSeconds, $0.fid.mean) }, intervals: band, colour: i,
                         band: true)
    }
    guard !series.isEmpty, let along = experiment.plan.evaluation.along else { return nil }
    return SVGChart(title: "\(study): FID along training", xLabel: "training time (s), stages in sequence", yLabel: "FID (\(along.samples) samples)",
                    series: series, lines: true,
                    note: repeats >= 2 ? "line: mean over \(repeats) training seeds; band: 95% interval" : "one training seed: no band",
                    xFromZero: true)
  }
}
