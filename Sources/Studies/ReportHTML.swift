// report.html: the markdown report's tables plus, per study, FID against training time and the loss
// curves, a sample grid per variant (PNG inlined as base64) and each variant's resolved settings.
// One file, no scripts, nothing fetched: it opens the same on a laptop and in a headless browser.
import Foundation

extension StudyReport {
  /// The whole page. Every string from the plan or the results enters it through `HTML`'s
  /// interpolation, which escapes it.
  public func html(studyDirectory: URL) -> String { page(studyDirectory: studyDirectory).markup }

  func page(studyDirectory: URL) -> HTML {
    let plan = experiment.plan
    var h: HTML = """
      <!doctype html><html><head><meta charset="utf-8"><title>\(plan.title)</title><style>
      body{font-family:sans-serif;margin:24px;max-width:1200px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}
      td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}th{background:#f4f4f4}
      .grids{display:flex;flex-wrap:wrap;gap:16px}.grids figure{margin:0}.grids img{image-rendering:pixelated;width:548px}
      figcaption{font-size:12px;max-width:548px}.verdict.better{color:#080;font-weight:bold}.verdict.worse{color:#b00;font-weight:bold}.verdict.equivalent{color:#046;font-weight:bold}.failed{color:#b00}pre{background:#f8f8f8;padding:8px;font-size:12px;overflow:auto}
      </style></head><body>
      <h1>\(plan.title)</h1>
      <p>Plan <code>\(plan.name)</code>, preset <code>\(plan.preset)</code>. \(plan.description)</p>
      <p>\(budgetSentence)</p><p>\(evaluationSentence.replacingOccurrences(of: "*", with: ""))</p>
      <p>Machine: \(machine.summary).</p>
      """
    h += answerHTML()
    for study in experiment.studies {
      h += studySection(study).html
      let rows = study.rows.compactMap { row in summary(row.slug).map { (row.label, $0) } }.filter { $0.1.finished }
      h += "<div>" + (curveChart(study.name, rows).map { c -> HTML in "\(c) " } ?? "") + "\(fidChart(study.name, rows)) \(lossChart(study.name, rows))</div>"
    }
    let failed = results.filter { !$0.finished }
    if !failed.isEmpty {
      h += "<h2>Failed runs</h2><ul>" + failed.map { r -> HTML in
        "<li class=\"failed\"><b>\(r.name)</b>, seed \(r.seed.map(String.init) ?? "?"): \(r.error ?? "")</li>"
      }.joined() + "</ul>"
    }
    h += "<h2>Samples (first seed)</h2><div class=\"grids\">"
    for r in results where r.finished && r.seed == experiment.plan.base.seed {
      guard let grid = r.grid, let file = try? resolveInside(studyDirectory, grid, what: "the sample grid of \(r.name)"),
            let png = try? Data(contentsOf: file) else { continue }
      h += "<figure><img alt=\"samples of \(r.name)\" src=\"data:image/png;base64,\(png.base64EncodedString())\">"
        + "<figcaption>\(r.name): FID \(r.fid.map { formatted($0, digits: 2) } ?? "—")</figcaption></figure>"
    }
    h += "</div><h2>Resolved settings</h2>"
    for v in experiment.variants {
      h += "<details><summary>\(v.name)</summary>"
      for s in v.stages {
        let parent = s.parent.map { p in ", initialised from " + (experiment.uniqueStages.first { $0.id == p }.map { "runs/\($0.directoryName)" } ?? p) } ?? ""
        h += "<p>stage <b>\(s.name)</b> (run <code>runs/\(s.directoryName)</code>\(parent))</p><pre>\(s.config.yaml())</pre>"
      }
      h += "</details>"
    }
    h += "<details><summary>the plan as resolved</summary><pre>\(plan.resolvedYAML)</pre></details>"
    return h + "<p>Data: results.json, results.csv.</p></body></html>\n"
  }

  /// FID (mean over seeds, 95% bar) against training time (mean over seeds), one point per row.
  func fidChart(_ study: String, _ rows: [(String, VariantSummary)]) -> SVGChart {
    let series = rows.compactMap { label, s -> ChartSeries? in
      guard let fid = s.fid, let t = s.trainingSeconds else { return nil }
      let bar = fid.low.flatMap { lo in fid.high.map { (lo, $0) } }
      return ChartSeries(label: label, points: [(t.mean, fid.mean)], intervals: [bar])
    }
    return SVGChart(title: "\(study): FID against training time", xLabel: "training time (s)", yLabel: "FID", series: series,
                    lines: false, note: repeats >= 2 ? "bars: 95% interval over \(repeats) training seeds"
                      : "bars: bootstrap over the samples (evaluation noise only, 1 seed)", xFromZero: true)
  }

  /// Each row's loss (first seed) against training time, its stages in sequence; masked stages dashed.
  func lossChart(_ study: String, _ rows: [(String, VariantSummary)]) -> SVGChart {
    var series: [ChartSeries] = []
    for (i, (label, s)) in rows.enumerated() {
      guard let r = s.perSeed.first(where: \.finished) else { continue }
      var elapsed = 0.0
      for (k, stage) in r.stages.enumerated() {
        let perStep = stage.run.steps > 0 ? stage.run.trainSeconds / Double(stage.run.steps) : 0
        let points = stage.run.lossCurve.compactMap { $0.count == 2 ? (elapsed + $0[0] * perStep, $0[1]) : nil }
        series.append(ChartSeries(label: label, points: points, dashed: stage.maskRatio > 0, colour: i, inLegend: k == 0))
        elapsed += stage.run.trainSeconds
      }
    }
    return SVGChart(title: "\(study): training loss", xLabel: "training time (s), stages in sequence", yLabel: "loss",
                    series: series, lines: true, note: "dashed: masked pre-training (loss on visible patches); solid: whole images")
  }
}

/// The CSS class of a verdict cell.
func verdictClass(_ label: String) -> String {
  label == Verdict.better.label ? "better" : label == Verdict.worse.label ? "worse" : label.hasPrefix("equivalent") ? "equivalent" : "unclear"
}
