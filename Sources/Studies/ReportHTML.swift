// report.html: the markdown report's tables plus, per study, FID against training time and the loss
// curves, a sample grid per variant (PNG inlined as base64) and each variant's resolved settings.
// One file, no scripts, nothing fetched: it opens the same on a laptop and in a headless browser.
import Foundation

extension StudyReport {
  /// The whole page.
  public func html(studyDirectory: URL) -> String {
    let plan = experiment.plan
    var h = """
      <!doctype html><html><head><meta charset="utf-8"><title>\(escapeHTML(plan.title))</title><style>
      body{font-family:sans-serif;margin:24px;max-width:1200px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}
      td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}th{background:#f4f4f4}
      .grids{display:flex;flex-wrap:wrap;gap:16px}.grids figure{margin:0}.grids img{image-rendering:pixelated;width:256px}
      figcaption{font-size:12px;max-width:256px}.failed{color:#b00}pre{background:#f8f8f8;padding:8px;font-size:12px;overflow:auto}
      </style></head><body>
      <h1>\(escapeHTML(plan.title))</h1>
      <p>Plan <code>\(escapeHTML(plan.name))</code>, preset <code>\(escapeHTML(plan.preset))</code>. \(escapeHTML(plan.description))</p>
      <p>\(escapeHTML(budgetSentence)) \(escapeHTML(evaluationSentence))</p>
      <p>Machine: \(escapeHTML(machine.summary)).</p>
      <h2>All variants</h2>
      """
    h += htmlTable(rows: experiment.variants.map { ($0.name, $0.slug) })
    for study in experiment.studies {
      h += "<h2>\(escapeHTML(study.name))</h2><p>\(study.action.rawValue) \(escapeHTML(study.part)); metrics: "
        + escapeHTML(study.metrics.joined(separator: ", ")) + ".</p>"
      h += htmlTable(rows: study.rows.map { ($0.label, $0.slug) })
      let rows = study.rows.compactMap { row in result(row.slug).map { (row.label, $0) } }.filter { $0.1.finished }
      let fid = SVGChart(title: "\(study.name): FID against training time", xLabel: "training time (s)", yLabel: "FID",
                         series: rows.map { ChartSeries(label: $0.0, points: fidPoints($0.1)) }, lines: true)
      let loss = SVGChart(title: "\(study.name): training loss", xLabel: "step (stages in sequence)", yLabel: "loss",
                          series: rows.map { ChartSeries(label: $0.0, points: lossPoints($0.1)) }, lines: true)
      h += "<div>" + fid.render() + " " + loss.render() + "</div>"
    }
    let failed = results.filter { !$0.finished }
    if !failed.isEmpty {
      h += "<h2>Failed variants</h2><ul>" + failed.map { "<li class=\"failed\"><b>\(escapeHTML($0.name))</b>: \(escapeHTML($0.error ?? ""))</li>" }.joined() + "</ul>"
    }
    h += "<h2>Samples</h2><div class=\"grids\">"
    for r in results where r.finished {
      guard let grid = r.grid, let png = try? Data(contentsOf: studyDirectory.appendingPathComponent(grid)) else { continue }
      h += "<figure><img alt=\"samples of \(escapeHTML(r.name))\" src=\"data:image/png;base64,\(png.base64EncodedString())\">"
        + "<figcaption>\(escapeHTML(r.name)): FID \(r.fid.map { formatted($0, digits: 2) } ?? "—")</figcaption></figure>"
    }
    h += "</div><h2>Resolved settings</h2>"
    for v in experiment.variants {
      h += "<details><summary>\(escapeHTML(v.name))</summary>"
      for s in v.stages {
        h += "<p>stage <b>\(escapeHTML(s.name))</b> (run <code>runs/\(escapeHTML(s.directoryName))</code>"
          + (s.parent.map { p in ", initialised from " + (experiment.uniqueStages.first { $0.id == p }.map { "runs/\($0.directoryName)" } ?? p) } ?? "")
          + ")</p><pre>\(escapeHTML(s.config.yaml()))</pre>"
      }
      h += "</details>"
    }
    h += "<details><summary>the plan as resolved</summary><pre>\(escapeHTML(plan.resolvedYAML))</pre></details>"
    return h + "<p>Data: results.json, results.csv.</p></body></html>\n"
  }

  func htmlTable(rows: [(String, String)]) -> String {
    var t = "<table><tr><th>variant</th>" + Self.columns.map { "<th>\(escapeHTML($0))</th>" }.joined() + "</tr>"
    for (label, slug) in rows {
      let r = result(slug)
      let cls = r.map { $0.finished ? "" : " class=\"failed\"" } ?? ""
      t += "<tr\(cls)><td>\(escapeHTML(label))</td>" + cells(r).map { "<td>\(escapeHTML($0))</td>" }.joined() + "</tr>"
    }
    return t + "</table>"
  }

  /// (cumulative training seconds, FID) after each evaluated stage.
  func fidPoints(_ r: VariantResult) -> [(Double, Double)] {
    var elapsed = 0.0
    var points: [(Double, Double)] = []
    for s in r.stages {
      elapsed += s.trainSeconds
      if let fid = s.evaluation?.fid { points.append((elapsed, fid)) }
    }
    return points
  }

  /// (cumulative step, loss) over the stages in sequence.
  func lossPoints(_ r: VariantResult) -> [(Double, Double)] {
    var offset = 0.0
    var points: [(Double, Double)] = []
    for s in r.stages {
      points += s.lossCurve.compactMap { $0.count == 2 ? (offset + $0[0], $0[1]) : nil }
      offset += Double(s.steps)
    }
    return points
  }
}
