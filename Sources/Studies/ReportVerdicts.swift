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
    let read = looked.isEmpty ? "no look read yet" : "looked at \(looked) seeds"
    return "Seeds: \(design.description); \(read); \(state)."
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

  /// The answer and its tables (verdicts, speed-ups, equal compute, seeds for the next study, where
  /// the time went): the sections report.md and report.html both show.
  var answerSections: [ReportSection] {
    var out: [ReportSection] = []
    let sentences = answerSentences
    if !sentences.isEmpty { out.append(ReportSection(title: "Answer", bullets: sentences.map { "\($0)." })) }
    let decision = experiment.plan.decision.description
    out.append(ReportSection(paragraphs: [decision.prefix(1).uppercased() + decision.dropFirst() + "."] + [designSentence].compactMap { $0 }))
    if !comparisons.isEmpty {
      out.append(ReportSection(title: "Verdicts", table: verdictTable, verdictColumn: verdictTable.header.firstIndex(of: "verdict")))
    }
    if !speedUps.isEmpty { out.append(ReportSection(title: "Speed-up (DSM-equivalent time)", paragraphs: [speedUpExplanation], table: speedUpTable)) }
    let compute = computeTable
    if !compute.rows.isEmpty { out.append(ReportSection(title: "Equal compute", paragraphs: [computeSentence], table: compute)) }
    if let seeds = seedPlanningTable { out.append(ReportSection(title: "Seeds for the next study", paragraphs: [seedPlanningSentence], table: seeds)) }
    if let time = studyTime { out.append(ReportSection(title: "Where the time went", paragraphs: [time.caveat], table: time.table)) }
    return out
  }

  func answerMarkdown() -> String { answerSections.map(\.markdown).joined() }

  func answerHTML() -> HTML { answerSections.map(\.html).joined() }

  var speedUpExplanation: String {
    "Per seed, DSM only's \(experiment.plan.decision.primaryMetric.label) along training (trained on to \(Experiment.speedUpReferenceFactor)x its budget) "
      + "is fitted by a decreasing isotonic regression; a variant's value at the end of its budget is read back on it as the time DSM only "
      + "needs for it. Speed-up = that time / the variant's own; geometric mean over seeds, 95% interval by Student t on the log scale. "
      + "A value beyond DSM only's curve is a bound (>, ≤), counted by the sign test and never averaged as exact."
  }
}

/// One section of the report, written alike as Markdown (report.md) and HTML (report.html): a heading,
/// bullet points, paragraphs and a table, each optional.
struct ReportSection {
  var title: String?
  /// Text shown as text in both formats.
  var bullets: [String] = []
  /// Paragraphs, shown as text in both formats.
  var paragraphs: [String] = []
  var table: ReportTable?
  /// The table's column whose cells are verdicts (coloured in HTML).
  var verdictColumn: Int?
  /// The table's rows of variants that failed (marked in HTML).
  var failedRows: Set<Int> = []

  init(title: String? = nil, bullets: [String] = [], paragraphs: [String] = [], table: ReportTable? = nil, verdictColumn: Int? = nil,
       failedRows: Set<Int> = []) {
    (self.title, self.bullets, self.paragraphs, self.table, self.verdictColumn) = (title, bullets, paragraphs, table, verdictColumn)
    self.failedRows = failedRows
  }

  var markdown: String {
    (title.map { "## \(markdownText($0))\n\n" } ?? "")
      + (bullets.isEmpty ? "" : bullets.map { "- \(markdownText($0))" }.joined(separator: "\n") + "\n\n")
      + paragraphs.map { markdownText($0) + "\n\n" }.joined() + (table.map { renderMarkdownTable($0) + "\n" } ?? "")
  }

  var html: HTML {
    (title.map { t -> HTML in "<h2>\(t)</h2>" } ?? "")
      + (bullets.isEmpty ? "" : "<ul>" + bullets.map { b -> HTML in "<li>\(b)</li>" }.joined() + "</ul>")
      + paragraphs.map { p -> HTML in "<p>\(p)</p>" }.joined()
      + (table.map { renderHTMLTable($0, verdictColumn: verdictColumn, failedRows: failedRows) } ?? "")
  }
}

func renderMarkdownTable(_ t: ReportTable) -> String {
  "| " + t.header.map(markdownCell).joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: t.header.count) + "\n"
    + t.rows.map { "| " + $0.map(markdownCell).joined(separator: " | ") + " |\n" }.joined()
}

func renderHTMLTable(_ t: ReportTable, verdictColumn: Int?, failedRows: Set<Int> = []) -> HTML {
  "<table><tr>" + t.header.map { h -> HTML in "<th>\(h)</th>" }.joined() + "</tr>"
    + t.rows.enumerated().map { r, row -> HTML in
      (failedRows.contains(r) ? "<tr class=\"failed\">" : "<tr>") + row.enumerated().map { i, cell -> HTML in
        i == verdictColumn ? "<td class=\"verdict \(verdictClass(cell))\">\(cell)</td>" : "<td>\(cell)</td>"
      }.joined() + "</tr>"
    }.joined() + "</table>"
}
