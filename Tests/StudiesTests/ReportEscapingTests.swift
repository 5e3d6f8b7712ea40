// A plan's names and a results file's strings reach report.html, report.md and results.csv; each sink
// escapes them (Escaping.swift). A hostile stage name once put a live <img onerror> into the page.
import Foundation
import Training
import XCTest
@testable import Studies

final class ReportEscapingTests: XCTestCase {
  static let payload = "<img src=x onerror=alert(1)>"

  /// A plan whose title, stage names and ablation name carry markup, `|` and formula starts.
  static func hostilePlan() -> String {
    """
    title: "T <script>alert(2)</script> | x"
    compare: steps
    \(TinyPlan.base(seed: 10))
    stages:
      - {name: "pre\(payload)", steps: 5, set: {dataset.MASK_RATIO: 0.75}}
      - {name: "fine\(payload)", init_from: "pre\(payload)", steps: 5}
    evaluation: {samples: 8}
    ablations:
      - {name: "=HYPERLINK(\\"http://x\\") | \(payload)", part: position embedding, action: REMOVE}
    """
  }

  func report() throws -> (Experiment, StudyReport) {
    let e = try Experiment(plan: try StudyPlan(yaml: Self.hostilePlan(), name: "t"))
    var results = e.variants.map { stubResult(e, $0, fid: 50) }
    results[0].error = "line one | cell\nline two <b>bold</b>"
    results[0].status = "failed"
    let machine = MachineInfo(cpu: "test CPU", cores: 2, memoryGB: 24, os: "Linux", mlx: "0.32.4", gpu: false)
    return (e, StudyReport(experiment: e, results: results, repeats: 1, machine: machine))
  }

  /// The element names that open in `html` (`<name`), outside of nothing: a plain tokenizer suffices,
  /// as escaped text holds no `<` at all.
  func elements(_ html: String) -> [String] {
    var names: [String] = []
    var rest = Substring(html)
    while let lt = rest.firstIndex(of: "<") {
      rest = rest[rest.index(after: lt)...]
      let name = rest.prefix { $0.isLetter || $0.isNumber }
      if !name.isEmpty { names.append(name.lowercased()) }
    }
    return names
  }

  func testNoUserStringBecomesAnElementOfTheHTMLReport() throws {
    let (_, report) = try report()
    let html = report.html(studyDirectory: URL(fileURLWithPath: "/nonexistent"))
    let allowed: Set<String> = ["html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "code", "table", "tr", "th", "td",
                                "div", "ul", "li", "b", "figure", "figcaption", "details", "summary", "pre",
                                "svg", "rect", "text", "line", "path", "polyline", "circle", "g", "polygon", "tspan"]
    let found = Set(elements(html))
    XCTAssertEqual(found.subtracting(allowed), [], "elements that no template writes")
    XCTAssertFalse(html.contains("<img"), "no sample grid was given, so no <img> may appear")
    XCTAssertFalse(html.contains("<script"))
    XCTAssertFalse(html.lowercased().contains("<b>bold"), "an error message's markup is shown as text")
    // The stage name reached the page, escaped, in the "initialised from" line too.
    XCTAssertTrue(html.contains("initialised from runs/pre&lt;img src=x onerror=alert(1)&gt;-"), html)
  }

  /// The page as an HTML parser reads it (Python's html.parser; python3 is one of the bootstrap's
  /// tools): every start tag with its attribute names.
  func parsedTags(_ html: String) throws -> [(tag: String, attributes: [String])] {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).html")
    try html.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let script = """
      import html.parser, json, sys
      class P(html.parser.HTMLParser):
          tags = []
          def handle_starttag(self, tag, attrs): self.tags.append([tag, [a for a, _ in attrs]])
      p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); p.close(); print(json.dumps(p.tags))
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, file.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0, "python3 could not parse the page")
    let tags = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[Any]])
    return tags.map { ($0[0] as? String ?? "", $0[1] as? [String] ?? []) }
  }

  func testAnHTMLParserFindsNoInjectedElementOrHandler() throws {
    let (_, report) = try report()
    let tags = try parsedTags(report.html(studyDirectory: URL(fileURLWithPath: "/nonexistent")))
    XCTAssertGreaterThan(tags.count, 50, "the page parsed")
    XCTAssertEqual(tags.filter { ["img", "script", "iframe", "object", "embed"].contains($0.tag) }.map(\.tag), [])
    XCTAssertEqual(tags.flatMap(\.attributes).filter { $0.hasPrefix("on") }, [], "an event handler attribute")
  }

  func testMarkdownTablesKeepTheirColumnsAndTextStaysOnItsLine() throws {
    let (e, report) = try report()
    let md = report.markdown()
    func unescapedBars(_ line: Substring) -> Int {
      var n = 0
      var escaped = false
      for c in line {
        if escaped { escaped = false; continue }
        if c == "\\" { escaped = true } else if c == "|" { n += 1 }
      }
      return n
    }
    // Every table: each row has as many cells as its header.
    var header: Int?
    for line in md.split(separator: "\n", omittingEmptySubsequences: false) {
      guard line.hasPrefix("|") else { header = nil; continue }
      if let h = header { XCTAssertEqual(unescapedBars(line), h, "a row of another width: \(line)") } else { header = unescapedBars(line) }
    }
    XCTAssertTrue(md.contains("\\| <img"), "the ablation's | is escaped in its table")
    XCTAssertFalse(md.contains("\nline two"), "an error's newline does not start a line of its own")
    XCTAssertEqual(e.studies.count, 1)
  }

  /// RFC 4180 records of `csv`.
  func records(_ csv: String) -> [[String]] {
    var rows: [[String]] = [], row: [String] = [], field = ""
    var quoted = false, i = csv.startIndex
    while i < csv.endIndex {
      let c = csv[i]
      if quoted {
        if c == "\"" {
          let next = csv.index(after: i)
          if next < csv.endIndex, csv[next] == "\"" { field.append("\""); i = next } else { quoted = false }
        } else { field.append(c) }
      } else if c == "\"" { quoted = true } else if c == "," { row.append(field); field = "" } else if c == "\n" {
        row.append(field); rows.append(row); row = []; field = ""
      } else { field.append(c) }
      i = csv.index(after: i)
    }
    return rows
  }

  func testCSVIsRFC4180AndFormulasAreNeutralised() throws {
    let (_, report) = try report()
    let rows = records(report.csv())
    XCTAssertEqual(rows.count, 1 + report.results.count, "one record per result, whatever the names hold:\n\(report.csv())")
    XCTAssertTrue(rows.allSatisfy { $0.count == rows[0].count })
    let names = rows.dropFirst().map { $0[0] }
    let formula = try XCTUnwrap(names.first { $0.contains("HYPERLINK") })
    XCTAssertTrue(formula.hasPrefix("'="), "a cell that starts with = is shown, not run: \(formula)")
    XCTAssertEqual(rows[1][rows[0].firstIndex(of: "error")!], "line one | cell\nline two <b>bold</b>", "text survives quoting")
    XCTAssertEqual(csvField("-1.5"), "-1.5", "numbers are not touched")
    XCTAssertEqual(csvField("@SUM(A1)"), "'@SUM(A1)")
    XCTAssertEqual(csvField("+1+2"), "'+1+2")
    XCTAssertEqual(csvField("a,\"b\""), "\"a,\"\"b\"\"\"")
  }
}

/// A finished result of `v` (seed index 0) with `fid`, as a study would record it.
func stubResult(_ e: Experiment, _ v: Variant, fid: Double) -> VariantResult {
  let stages = v.stages.map {
    StageResult(name: $0.name, id: $0.id,
                run: RunSummary(steps: 100, finalLoss: 0.1, trainSeconds: 10, deviceSeconds: 10, wallSeconds: 12, imagesPerSecond: 50,
                                warmupSeconds: 1, peakMemoryBytes: 1 << 20, device: "cpu", runDirectory: "runs/\($0.directoryName)",
                                lossCurve: [[1, 0.5], [100, 0.2]]),
                budgetSeconds: $0.budgetSeconds, maskRatio: $0.config.dataset.maskRatio,
                evaluation: EvaluationResult(fid: fid, fidBootstrapLow: fid - 3, fidBootstrapHigh: fid + 3, kidMean: 0.01, kidStd: 0.001,
                                             samples: 8, referenceSamples: 8, sampler: "DDIM", seconds: 1, samplesPerSecond: 8, grid: nil,
                                             weights: String(repeating: "0f", count: 32)))
  }
  return VariantResult(variant: v, stages: stages)
}
