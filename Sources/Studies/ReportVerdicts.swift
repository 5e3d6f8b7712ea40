// The report's answer: the plan's verdicts as sentences (what changed, by how much, how sure, in which
// family), then the verdict table and the speed-up table. Both tables are built once as rows of cells;
// report.md and report.html only render them.
import Foundation

/// A table: a header and rows of cells.
struct ReportTable {
  var header: [String]
  var rows: [[String]]
}

extension StudyReport {
  /// One sentence per comparison and per speed-up, the answer first.
  public var answerSentences: [String] {
    let spec = experiment.plan.decision
    let m = comparisons.count
    let family = "family of \(m) comparison\(m == 1 ? "" : "s")"
    var out = comparisons.map { c -> String in
      let head = "\(c.study), \(c.label) against \(c.reference): \(metricLabel(c.metric)) \(c.difference.text(signed: true, scale: scale(c.metric)))"
      switch c.verdict {
      case .better, .worse:
        return head + ", \(c.verdict.label) (\(pSentence(c, kind: .difference)), \(family))"
      case .equivalent:
        return head + ", \(c.verdict.label(margin: spec.equivalenceMargin)) (\(pSentence(c, kind: .equivalence)), \(family))"
      case .noClearDifference:
        return head + ", undecided at this power: neither different nor equivalent within ±\(formatted(spec.equivalenceMargin * 100, digits: 0))% "
          + "(difference p = \(pText(c.decision.test?.pDifference ?? 1)), equivalence p = \(pText(c.decision.test?.pEquivalence ?? 1)))"
      case .oneSeed:
        return head + ": one seed, no verdict"
      case .pending:
        return head + ": no verdict yet (the design reads it at \(experiment.plan.decision.design.looks[0]) seeds)"
      }
    }
    let reference = experiment.speedUpReference.flatMap { slug in experiment.studies.flatMap(\.rows).first { $0.slug == slug }?.label } ?? "DSM only"
    out += speedUps.map { $0.sentence(reference: reference) }
    return out
  }

  private func pSentence(_ c: Comparison, kind: FamilyHypothesis.Kind) -> String {
    let raw = kind == .difference ? c.decision.test?.pDifference : c.decision.test?.pEquivalence
    if experiment.plan.decision.design.isSequential {
      return "p = \(pText(raw ?? 1)) against the look's boundary \(pText(c.decision.nominalLevel ?? 0))"
    }
    let adjusted = kind == .difference ? c.decision.adjustedDifference : c.decision.adjustedEquivalence
    return "Holm-adjusted p = \(pText(adjusted ?? 1)), raw \(pText(raw ?? 1))"
  }

  /// Where a sequential design stands, or nil for a fixed one.
  public var designSentence: String? {
    let design = experiment.plan.decision.design
    guard design.isSequential else { return nil }
    let looked = outcome.looksRead.map(String.init).joined(separator: ", ")
    let state = outcome.finished
      ? (outcome.looksRead.last == design.maxSeeds && !comparisons.allSatisfy { $0.verdict != .noClearDifference }
        ? "it ran to its maximum of \(design.maxSeeds) seeds" : "it stopped at \(outcome.looksRead.last ?? 0) seeds, every comparison decided")
      : "it goes on (the next look is at \(design.looks.first { $0 > (outcome.looksRead.last ?? 0) } ?? design.maxSeeds) seeds)"
    return "Seeds: \(design.description); looked at \(looked.isEmpty ? "none yet" : looked) seeds; \(state)."
  }

  /// The verdict table: one row per comparison.
  var verdictTable: ReportTable {
    let spec = experiment.plan.decision
    let sequential = spec.design.isSequential
    let header = ["study", "variant", "against", "Δ\(metricLabel(spec.primaryMetric)) [95% CI]", "relative", "p (difference)", "p (equivalence)",
                  sequential ? "boundary met" : "Holm-adjusted p (diff. / equiv.)", "seeds", "verdict"]
      + (spec.primaryMetric == .kid ? ["ΔFID [95% CI] (exploratory)"] : [])
    let rows = comparisons.map { c -> [String] in
      let test = c.decision.test
      let adjusted = [c.decision.adjustedDifference, c.decision.adjustedEquivalence].map { $0.map(pText) ?? "—" }.joined(separator: " / ")
      return [c.study, c.label, c.reference, c.difference.text(signed: true, scale: scale(c.metric)),
              c.relativeDifference.map { String(format: "%+.0f%%", $0 * 100) } ?? "",
              test.map { pText($0.pDifference) } ?? "—", test.map { pText($0.pEquivalence) } ?? "—",
              sequential ? (c.decision.nominalLevel.map(pText) ?? "—") : adjusted, "\(c.decision.seeds)",
              c.verdict.label(margin: spec.equivalenceMargin)]
        + (spec.primaryMetric == .kid ? [c.fidDifference?.text(signed: true) ?? "—"] : [])
    }
    return ReportTable(header: header, rows: rows)
  }

  /// KID is shown ×10³.
  func scale(_ metric: PrimaryMetric) -> Double { metric == .kid ? 1000 : 1 }
  func metricLabel(_ metric: PrimaryMetric) -> String { metric == .kid ? "KID ×10³" : "FID" }

  /// The speed-up table: one row per timed variant.
  var speedUpTable: ReportTable {
    let header = ["variant", "speed-up over DSM only [95% CI]", "faster / slower seeds (sign test p)", "per seed: DSM-equivalent time / own time"]
    let rows = speedUps.map { s -> [String] in
      let summary: String
      if let g = s.geometricMean {
        summary = String(format: "%.2fx", g.mean) + (g.low.flatMap { lo in g.high.map { String(format: " [%.2f, %.2f]", lo, $0) } } ?? "")
      } else {
        switch s.bound {
        case let .atLeast(b)?: summary = String(format: "> %.2fx (bound)", b)
        case let .atMost(b)?: summary = String(format: "< %.2fx (bound)", b)
        default: summary = "—"
        }
      }
      let seeds = s.perSeed.map { p -> String in
        let mark: String
        switch p.dsmEquivalent { case .exact: mark = ""; case .atMost: mark = "≤ "; case .atLeast: mark = "> " }
        return "\(mark)\(formatted(p.dsmEquivalent.seconds, digits: 0)) s / \(formatted(p.seconds, digits: 0)) s"
      }.joined(separator: "; ")
      return [s.name, summary, "\(s.faster) / \(s.slower) (p = \(pText(s.signTestP)))", seeds]
    }
    return ReportTable(header: header, rows: rows)
  }

  /// Measured training time against the budget per compared pair: a pair whose measured times differ by
  /// more than `computeTolerance` is flagged (its variants did not get equal compute on this machine).
  var computeTable: ReportTable {
    let header = ["variant", "against", "budget", "measured (variant / reference, mean over seeds)", "difference", "equal compute"]
    let bySlug = Dictionary(summaries.map { ($0.slug, $0) }, uniquingKeysWith: { a, _ in a })
    let rows = comparisons.compactMap { c -> [String]? in
      guard let v = bySlug[c.slug]?.trainingSeconds?.mean, let r = bySlug[c.referenceSlug]?.trainingSeconds?.mean, r > 0 else { return nil }
      let budget = bySlug[c.slug]?.stages.compactMap(\.budgetSeconds).reduce(0, +) ?? 0
      let gap = v / r - 1
      return [c.label, c.reference, budget > 0 ? "\(formatted(budget, digits: 0)) s" : "equal steps",
              "\(formatted(v, digits: 1)) s / \(formatted(r, digits: 1)) s", String(format: "%+.1f%%", gap * 100),
              abs(gap) <= Self.computeTolerance ? "yes" : "NO: more than ±\(formatted(Self.computeTolerance * 100, digits: 0))% apart"]
    }
    return ReportTable(header: header, rows: rows)
  }

  /// How far apart two compared variants' measured training times may be.
  static let computeTolerance = 0.05

  var computeSentence: String {
    "Each variant's training-step time as measured, beside its budget (turned into steps by the calibration); a compared pair more "
      + "than ±5% apart did not get equal compute on this machine (a loaded machine stretches steps unevenly, and a calibration "
      + "measured on another machine gives other times)."
  }

  /// The answer and its tables (verdicts, speed-ups, equal compute, where the time went) in Markdown.
  func answerMarkdown() -> String {
    var md = ""
    let sentences = answerSentences
    if !sentences.isEmpty { md += "## Answer\n\n" + sentences.map { "- \(markdownText($0))." }.joined(separator: "\n") + "\n\n" }
    md += "\(experiment.plan.decision.description.prefix(1).uppercased() + experiment.plan.decision.description.dropFirst()).\n\n"
    if let d = designSentence { md += d + "\n\n" }
    if !comparisons.isEmpty { md += "## Verdicts\n\n" + renderMarkdownTable(verdictTable) + "\n" }
    if !speedUps.isEmpty {
      md += "## Speed-up (DSM-equivalent time)\n\n" + speedUpExplanation + "\n\n" + renderMarkdownTable(speedUpTable) + "\n"
    }
    let compute = computeTable
    if !compute.rows.isEmpty { md += "## Equal compute\n\n" + computeSentence + "\n\n" + renderMarkdownTable(compute) + "\n" }
    if let seeds = seedPlanningTable { md += "## Seeds for the next study\n\n" + seedPlanningSentence + "\n\n" + renderMarkdownTable(seeds) + "\n" }
    if let time = studyTime { md += "## Where the time went\n\n" + time.caveat + "\n\n" + renderMarkdownTable(time.table) + "\n" }
    return md
  }

  /// The answer and its tables in HTML.
  func answerHTML() -> HTML {
    var h: HTML = ""
    let sentences = answerSentences
    if !sentences.isEmpty { h += "<h2>Answer</h2><ul>" + sentences.map { s -> HTML in "<li>\(s).</li>" }.joined() + "</ul>" }
    h += "<p>\(experiment.plan.decision.description).</p>"
    if let d = designSentence { h += "<p>\(d)</p>" }
    if !comparisons.isEmpty { h += "<h2>Verdicts</h2>" + renderHTMLTable(verdictTable, verdictColumn: verdictTable.header.firstIndex(of: "verdict")) }
    if !speedUps.isEmpty { h += "<h2>Speed-up (DSM-equivalent time)</h2><p>\(speedUpExplanation)</p>" + renderHTMLTable(speedUpTable, verdictColumn: nil) }
    let compute = computeTable
    if !compute.rows.isEmpty { h += "<h2>Equal compute</h2><p>\(computeSentence)</p>" + renderHTMLTable(compute, verdictColumn: nil) }
    if let seeds = seedPlanningTable {
      h += "<h2>Seeds for the next study</h2><p>\(seedPlanningSentence)</p>" + renderHTMLTable(seeds, verdictColumn: nil)
    }
    if let time = studyTime { h += "<h2>Where the time went</h2><p>\(time.caveat)</p>" + renderHTMLTable(time.table, verdictColumn: nil) }
    return h
  }

  var speedUpExplanation: String {
    "Per seed, DSM only's \(experiment.plan.decision.primaryMetric.label) along training (trained on to \(Experiment.speedUpReferenceFactor)x its budget) "
      + "is fitted by a decreasing isotonic regression; a variant's value at the end of its budget is read back on it as the time DSM only "
      + "needs for it. Speed-up = that time / the variant's own; geometric mean over seeds, 95% interval by Student t on the log scale. "
      + "A value beyond DSM only's curve is a bound (>, ≤), counted by the sign test and never averaged as exact."
  }
}

func renderMarkdownTable(_ t: ReportTable) -> String {
  "| " + t.header.map(markdownCell).joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: t.header.count) + "\n"
    + t.rows.map { "| " + $0.map(markdownCell).joined(separator: " | ") + " |\n" }.joined()
}

func renderHTMLTable(_ t: ReportTable, verdictColumn: Int?) -> HTML {
  "<table><tr>" + t.header.map { h -> HTML in "<th>\(h)</th>" }.joined() + "</tr>"
    + t.rows.map { row -> HTML in
      "<tr>" + row.enumerated().map { i, cell -> HTML in
        i == verdictColumn ? "<td class=\"verdict \(verdictClass(cell))\">\(cell)</td>" : "<td>\(cell)</td>"
      }.joined() + "</tr>"
    }.joined() + "</table>"
}
