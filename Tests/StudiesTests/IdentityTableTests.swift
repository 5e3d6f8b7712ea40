// The stage identities and variant keys every shipped plan, both seed plans (imported) and the import
// corpus's plans expand to, checked against tables in Tests/Fixtures/identities: a finished study
// keeps its runs and evaluations only while these stay the same, so a change to how plans are read or
// how identities are computed must leave the tables as they are (or migrate the studies it changes).
// identities-v1.txt is the first encoding (configuration YAML, printed protocol), recorded before the
// canonical encoding: the migration's reading of it must give exactly those names, or old studies
// would not be found. identities-v2.txt is the canonical encoding.
// `MASKDM_RECORD_IDENTITIES=1` writes the current table anew (only when the change is meant).
import Foundation
@testable import Studies
import XCTest

final class IdentityTableTests: XCTestCase {
  static func table(_ version: Int) -> URL {
    PlanTests.root.appendingPathComponent("Tests/Fixtures/identities/identities-v\(version).txt")
  }

  /// Every plan of the table: (what it is, its YAML, the preset).
  static func sources() throws -> [(String, String, String)] {
    let plans = PlanTests.root.appendingPathComponent("plans")
    var out: [(String, String, String)] = []
    let shipped = try FileManager.default.contentsOfDirectory(at: plans, includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "yaml" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    for url in shipped {
      let yaml = try String(contentsOf: url, encoding: .utf8)
      for preset in ["quick", "paper"] { out.append(("plans/\(url.lastPathComponent)", yaml, preset)) }
    }
    let seeds = try FileManager.default.contentsOfDirectory(at: plans.appendingPathComponent("seeds"), includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "txt" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    for url in seeds {
      let name = url.deletingPathExtension().lastPathComponent
      let yaml = try importPlan(try String(contentsOf: url, encoding: .utf8), name: name).yaml
      for preset in ["quick", "paper"] { out.append(("plans/seeds/\(url.lastPathComponent) imported", yaml, preset)) }
    }
    // The corpus in its four formats, every fourth wording in each (as the corpus test imports it).
    for (w, wrapper) in ImportCorpus.Wrapper.allCases.enumerated() {
      let items = ImportCorpus.all.enumerated().filter { $0.offset % 4 == w }.map { ("Ablation \($0.offset)", $0.element) }
      out.append(("corpus \(wrapper) imported", try importPlan(wrapper.document(items), name: "corpus").yaml, "quick"))
    }
    return out
  }

  /// One block of the table: the plan's variants, each with its key, evaluation cache keys and stages
  /// (identity, parent, the identity of its second seed); uncalibrated and with a calibration that
  /// gives every timed setting its own rate.
  static func block(_ what: String, _ yaml: String, preset: String, legacy: Bool) throws -> String {
    let plan = try StudyPlan(yaml: yaml, name: "plan", preset: preset)
    var out = ""
    let plain = try Experiment(plan: plan)
    var calibrations: [(String, Calibration?)] = [("none", nil)]
    if plan.compare == .time {
      var c = plan.calibration ?? Calibration()
      for (i, setting) in plain.timedSettings.enumerated() where c.entries[SpeedSetting(setting)] == nil {
        c.entries[SpeedSetting(setting)] = .init(stepsPerSecond: 7.5 + Double(i), source: "plan")
      }
      calibrations.append((plan.calibration == nil ? "every setting" : "the plan's", c))
    }
    for (label, calibration) in calibrations {
      let e = try Experiment(plan: plan, calibration: calibration)
      out += "# \(what), preset \(preset), calibration \(label)\n"
      for v in e.variants { out += legacy ? legacyLines(v, e) : lines(v, e) }
    }
    return out
  }

  static func lines(_ v: Variant, _ e: Experiment) -> String {
    var out = "variant \(v.slug) key \(v.key) evaluation \(v.evaluation.cacheKey) along \(v.evaluation.alongPoint?.alongCacheKey ?? "-")\n"
    let second = e.seeded(v, repeat: 1)
    for (s, t) in zip(v.stages, second.stages) {
      out += "  stage \(s.name) \(s.id) parent \(s.parent ?? "-") seed2 \(t.id)\n"
    }
    return out
  }

  /// The same lines by the first encoding, as the migration computes it.
  static func legacyLines(_ v: Variant, _ e: Experiment) -> String {
    let ids = IdentityMigration.legacyIdentities(v), second = IdentityMigration.legacyIdentities(e.seeded(v, repeat: 1))
    let along = v.evaluation.alongPoint.map { IdentityMigration.legacyCacheKey($0, along: true) } ?? "-"
    var out = "variant \(v.slug) key \(IdentityMigration.legacyVariantKey(ids, v.evaluation)) "
      + "evaluation \(IdentityMigration.legacyCacheKey(v.evaluation, along: false)) along \(along)\n"
    for (i, s) in v.stages.enumerated() {
      let parent = s.parent.flatMap { p in v.stages.firstIndex { $0.id == p } }.map { ids[$0] } ?? "-"
      out += "  stage \(s.name) \(ids[i]) parent \(parent) seed2 \(second[i])\n"
    }
    return out
  }

  static func computed(legacy: Bool) throws -> String {
    try sources().map { try block($0.0, $0.1, preset: $0.2, legacy: legacy) }.joined()
  }

  func compare(_ version: Int, _ now: String) throws {
    let recorded = try String(contentsOf: Self.table(version), encoding: .utf8)
    let (a, b) = (recorded.components(separatedBy: "\n"), now.components(separatedBy: "\n"))
    let changed = zip(a, b).enumerated().filter { $0.element.0 != $0.element.1 }.prefix(20)
      .map { "line \($0.offset + 1):\n  table: \($0.element.0)\n  now:   \($0.element.1)" }
    XCTAssertEqual(a.count, b.count, "the table has \(a.count) lines, the plans now give \(b.count)")
    XCTAssertTrue(changed.isEmpty, "identities (v\(version)) changed:\n" + changed.joined(separator: "\n"))
    // The table covers what it says: shipped plans, both seeds and the corpus, with calibrated budgets.
    XCTAssertGreaterThan(recorded.components(separatedBy: "\nvariant ").count, 300)
    for what in ["plans/demo.yaml", "plans/seeds/000_7b5c65738c169056.txt imported", "plans/seeds/001_b13ba515e472a226.txt imported", "corpus htmlList"] {
      XCTAssertTrue(recorded.contains("# \(what)"), what)
    }
    XCTAssertTrue(recorded.contains("calibration the plan's"))
  }

  /// The migration reads the first encoding exactly as the code before the canonical encoding computed it.
  func testTheFirstEncodingIsReadAsItWas() throws {
    let now = try Self.computed(legacy: true)
    // A shipped plan that changes changes its identities in both tables (only its blocks may differ).
    if ProcessInfo.processInfo.environment["MASKDM_RECORD_IDENTITIES"] == "1" {
      try now.write(to: Self.table(1), atomically: true, encoding: .utf8)
    }
    try compare(1, now)
  }

  func testEveryPlanKeepsItsIdentities() throws {
    let now = try Self.computed(legacy: false)
    if ProcessInfo.processInfo.environment["MASKDM_RECORD_IDENTITIES"] == "1" {
      try now.write(to: Self.table(identityEncodingVersion), atomically: true, encoding: .utf8)
    }
    try compare(identityEncodingVersion, now)
  }
}
