// The report's view of FID along training: the time-to-target table with its headline sentences, and
// per study the FID-against-training-time curves (mean line, 95% band over seeds, the target as a
// horizontal line).
import Foundation

extension StudyReport {
  /// The "Time to target" section of report.md (empty without evaluation along training).
  func timeToTargetMarkdown() -> String {
    guard experiment.plan.evaluation.along != nil else { return "" }
    guard let target else {
      return "## Time to target\n\nNo target FID: the plan has no DSM-only variant (a single unmasked stage) whose final FID "
        + "would be the target, and no `evaluation.target_fid`; the curves are in report.html and results.json.\n\n"
    }
    var md = "## Time to target\n\nTarget: FID \(formatted(target.fid, digits: 2)), \(markdownText(target.source)). "
      + "Each curve is linearly interpolated between its points; a seed that never reaches the target within its budget has no time.\n\n"
    for t in timesToTarget where t.slug != target.referenceSlug { md += "- \(markdownText(t.sentence(target))).\n" }
    md += "\n| variant | reached (seeds) | time to target [95% CI] | relative to \(markdownCell(target.referenceName ?? "reference")) [95% CI] | speed-up | per seed (s) |\n"
      + "|---|---|---|---|---|---|\n"
    for t in timesToTarget {
      let cells = timeToTargetCells(t, target)
      md += "| \(markdownCell(t.name)) | " + cells.map(markdownCell).joined(separator: " | ") + " |\n"
    }
    return md + "\n"
  }

  /// The cells after the variant's name: seeds reached, time, ratio, speed-up, per-seed times.
  func timeToTargetCells(_ t: TimeToTarget, _ target: TargetFID) -> [String] {
    let isReference = t.slug == target.referenceSlug
    let time = t.seconds.map { $0.text() } ?? "not reached in every seed"
    let ratio = isReference ? (target.isReferenceFinal ? "reference (its whole budget)" : "reference") : t.ratio.map { r in
      r.low.flatMap { lo in r.high.map { hi in String(format: "%.0f%% [%.0f%%, %.0f%%]", r.mean * 100, lo * 100, hi * 100) } }
        ?? String(format: "%.0f%%", r.mean * 100)
    } ?? "—"
    let speedUp = isReference ? "" : t.ratio.map { String(format: "%.2fx", 1 / $0.mean) } ?? "—"
    let seeds = t.perSeed.map { s in
      s.seconds.map { (s.beforeFirstPoint ? "≤" : "") + formatted($0, digits: 1) } ?? "not reached"
    }.joined(separator: ", ")
    return ["\(t.reached) of \(t.perSeed.count)", time, ratio, speedUp, seeds]
  }

  /// The HTML form of the section: sentences and table.
  func timeToTargetHTML() -> HTML {
    guard experiment.plan.evaluation.along != nil else { return "" }
    guard let target else {
      return "<h2>Time to target</h2><p>No target FID: the plan has no DSM-only variant and no <code>evaluation.target_fid</code>.</p>"
    }
    var h: HTML = "<h2>Time to target</h2><p>Target: FID \(formatted(target.fid, digits: 2)), \(target.source).</p><ul>"
    for t in timesToTarget where t.slug != target.referenceSlug { h += "<li>\(t.sentence(target)).</li>" }
    h += "</ul><table><tr><th>variant</th><th>reached (seeds)</th><th>time to target [95% CI]</th><th>relative to "
      + "\(target.referenceName ?? "reference") [95% CI]</th><th>speed-up</th><th>per seed (s)</th></tr>"
    for t in timesToTarget {
      h += "<tr><td>\(t.name)</td>" + timeToTargetCells(t, target).map { c -> HTML in "<td>\(c)</td>" }.joined() + "</tr>"
    }
    return h + "</table>"
  }

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
    let line = target.map { ChartLine(y: $0.fid, label: "target \(formatted($0.fid, digits: 1))") }
    return SVGChart(title: "\(study): FID along training", xLabel: "training time (s), stages in sequence", yLabel: "FID (\(along.samples) samples)",
                    series: series, lines: true,
                    note: repeats >= 2 ? "line: mean over \(repeats) training seeds; band: 95% interval; dashed: target FID"
                      : "one training seed: no band; dashed: target FID",
                    xFromZero: true, horizontalLine: line)
  }
}
