import Foundation
@testable import Studies
import XCTest

/// The import corpus (ImportCorpus.swift): every wording, in every plan format, imports to the part
/// and values it states, or is refused naming the candidates it states; what was understood runs.
final class ImportCorpusTests: XCTestCase {
  func testTheCorpusIsWideAndCoversEveryPart() {
    let all = ImportCorpus.all
    XCTAssertGreaterThanOrEqual(all.count, 150)
    XCTAssertGreaterThanOrEqual(ImportCorpus.refusals.count, 20)
    let parts = Set(all.compactMap(\.part))
    for (_, _, part) in namedParts { XCTAssertTrue(parts.contains(part.canonicalName), "no wording of the \(part.label)") }
    // Distinct wordings: the corpus is not one wording repeated.
    XCTAssertGreaterThan(Set(all.map { $0.wording.lowercased() }).count, 150)
  }

  func testEveryWordingImportsToItsPartAndValuesInEveryFormat() throws {
    var failures: [String] = []
    for (w, wrapper) in ImportCorpus.Wrapper.allCases.enumerated() {
      let items = ImportCorpus.all.enumerated().filter { $0.offset % 4 == w }.map { ("Ablation \($0.offset)", $0.element) }
      let imported = try importPlan(wrapper.document(items), name: "corpus")
      XCTAssertEqual(imported.ablations.map(\.source.name), items.map(\.0), "\(wrapper): every ablation is read")
      let plan = try StudyPlan(yaml: imported.yaml, name: "corpus")
      let written = Dictionary(uniqueKeysWithValues: plan.ablations.map { ($0.name, $0) })
      for ((name, entry), a) in zip(items, imported.ablations) {
        let label = "\(wrapper) \(name) \"\(entry.wording)\" \(entry.replacements)"
        guard let part = entry.part else {
          if a.isImported { failures.append("\(label): must be refused, was read as \(a.part!.canonicalName)") }
          else if !Set(entry.candidates).isSubset(of: a.candidates) {
            failures.append("\(label): refused naming \(a.candidates), not \(entry.candidates): \(a.problem!)")
          }
          if !imported.yaml.contains("# NOT IMPORTED: ablation \(name):") { failures.append("\(label): no commented block") }
          continue
        }
        guard let ablation = written[name] else { failures.append("\(label): not imported: \(a.problem ?? "?")"); continue }
        if ablation.part.canonicalName != part { failures.append("\(label): read as \(ablation.part), not \(part)") }
        if ablation.spelledReplacements != entry.values {
          failures.append("\(label): values \(ablation.spelledReplacements), not \(entry.values)")
        }
      }
      // What was understood runs: the plan expands as `study run --dry-run` expands it.
      XCTAssertEqual(try Experiment(plan: plan).studies.count, plan.ablations.count)
    }
    XCTAssertTrue(failures.isEmpty, "\(failures.count) wordings misread:\n" + failures.joined(separator: "\n"))
  }

  /// Each wording read on its own (the plan's run-time reading, without the import's value checks)
  /// gives the same part, so a shipped plan means the same at import and at run time.
  func testTheRunTimeReadingAgreesWithTheImport() {
    for entry in ImportCorpus.all where entry.part != nil && entry.action != "REMOVE" {
      let r = try? PlanPart.recognize(entry.wording, replacements: entry.replacements, action: .replace)
      XCTAssertEqual(r?.part.canonicalName, entry.part, entry.wording)
      // What the import writes is read back by its name.
      if let part = r?.part { XCTAssertEqual(try? PlanPart.recognize(part.canonicalName).part, part) }
    }
  }
}
