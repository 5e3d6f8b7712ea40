// A study made under the first identity encoding (runs, caches, grids and results named by the hash of
// the configuration's YAML) is moved to the canonical identities when it is opened: nothing finished
// is trained or evaluated again, and what the study recorded reads back as the current variants'.
import Foundation
@testable import Studies
import Training
import XCTest

final class IdentityMigrationTests: XCTestCase {
  static let plan = "name: migrate\ncompare: steps\n" + TinyPlan.base() + """

    stages: [{name: pretrain, steps: 5, set: {dataset.MASK_RATIO: 0.5}}, {name: finetune, init_from: pretrain, steps: 5}]
    evaluation: {along: {every: 2, samples: 8}}
    ablations: [{name: Positional information, part: position embedding, action: REMOVE}]
    """

  var study: URL!

  override func setUpWithError() throws {
    study = FileManager.default.temporaryDirectory.appendingPathComponent("migration-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: study, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: study) }

  func write(_ text: String, _ relative: String) throws {
    let url = study.appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
  }

  /// Writes `variant` as a study of the first encoding left it: each stage's finished run, its
  /// evaluation cache, a point along training, its grid, and the variant's result.
  func writeOldLayout(_ variant: Variant) throws {
    let ids = IdentityMigration.legacyIdentities(variant)
    let evaluationKey = IdentityMigration.legacyCacheKey(variant.evaluation, along: false)
    let alongKey = try IdentityMigration.legacyCacheKey(XCTUnwrap(variant.evaluation.alongPoint), along: true)
    var stages: [StageResult] = []
    for (stage, id) in zip(variant.stages, ids) {
      let dir = "\(stage.name)-\(id)"
      try write("{\"steps\": 5}", "runs/\(dir)/summary.json")
      try write("{}", "evaluations/\(dir)-\(evaluationKey).json")
      try write("{}", "evaluations/\(dir)-step-2-\(alongKey).json")
      try write("png", "grids/\(dir)-\(evaluationKey).png")
      let run = RunSummary(steps: 5, finalLoss: nil, trainSeconds: 1, deviceSeconds: 1, wallSeconds: 1, imagesPerSecond: 1,
                           peakMemoryBytes: 0, device: "cpu", runDirectory: "runs/\(dir)", lossCurve: [])
      stages.append(StageResult(name: stage.name, id: id, run: run, maskRatio: 0))
    }
    var result = VariantResult(variant: variant, stages: stages)
    result.key = IdentityMigration.legacyVariantKey(ids, variant.evaluation)
    (result.fid, result.kidMean, result.kidStd) = (30, 0.01, 0.001)
    result.grid = "grids/\(variant.stages.last!.name)-\(ids.last!)-\(evaluationKey).png"
    let folder = study.appendingPathComponent("results/\(variant.slug)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try resultsEncoder.encode(result).write(to: folder.appendingPathComponent("seed-\(variant.seed).json"))
  }

  func testAStudyOfTheFirstEncodingMovesToTheCurrentIdentities() throws {
    let plan = try StudyPlan(yaml: Self.plan, name: "migrate")
    let e = try Experiment(plan: plan)
    let seeded = e.variants.flatMap { v in [v, e.seeded(v, repeat: 1)] }
    for v in seeded { try writeOldLayout(v) }
    let old = Set(seeded.flatMap { IdentityMigration.legacyIdentities($0) })
    XCTAssertTrue(old.isDisjoint(with: seeded.flatMap { $0.stages.map(\.id) }), "the encodings differ")

    // Opening the study (as every `study` command does) moves it.
    let opened = try StudyRunner.calibrated(plan, directory: study, measure: false)
    let dir = StudyDirectory(study)
    for v in seeded {
      for stage in v.stages {
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.run(stage).appendingPathComponent("summary.json").path), stage.directoryName)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.evaluation(stage: stage, key: v.evaluation.cacheKey).path))
        let along = try XCTUnwrap(v.evaluation.alongPoint).alongCacheKey
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.evaluations.appendingPathComponent("\(stage.directoryName)-step-2-\(along).json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: study.appendingPathComponent("grids/\(stage.directoryName)-\(v.evaluation.cacheKey).png").path))
      }
    }
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.runs.path)
    XCTAssertEqual(names.count, Set(seeded.flatMap { $0.stages.map(\.id) }).count)
    XCTAssertTrue(names.allSatisfy { name in !old.contains { name.hasSuffix($0) } }, "\(names)")
    // The results read back as the current variants' (their key), with the stages' new identities and paths.
    let (recorded, damaged) = dir.recorded(opened, repeats: 2)
    XCTAssertEqual(damaged.map(\.reason), [])
    XCTAssertEqual(recorded.count, seeded.count)
    for r in recorded {
      let v = try XCTUnwrap(seeded.first { $0.slug == r.slug && $0.seed == r.seed })
      XCTAssertEqual(r.key, v.key)
      XCTAssertEqual(r.stages.map(\.id), v.stages.map(\.id))
      XCTAssertEqual(r.stages.map(\.run.runDirectory), v.stages.map { "runs/\($0.directoryName)" })
      XCTAssertEqual(r.grid, "grids/\(v.stages.last!.directoryName)-\(v.evaluation.cacheKey).png")
    }
    // Once current, the directory is not scanned again.
    XCTAssertTrue(try IdentityMigration.migrate(opened, in: dir).isEmpty)
    XCTAssertEqual(dir.read(IdentityMigration.Marker.self, at: study.appendingPathComponent(IdentityMigration.markerName))?.version, 2)
  }

  func testResultsWhoseRunsAreGoneAreMigratedToo() throws {
    let plan = try StudyPlan(yaml: Self.plan, name: "migrate")
    let e = try Experiment(plan: plan)
    for v in e.variants { try writeOldLayout(v) }
    try FileManager.default.removeItem(at: study.appendingPathComponent("runs"))
    let opened = try StudyRunner.calibrated(plan, directory: study, measure: false)
    let recorded = StudyDirectory(study).recordedResults(opened, repeats: 1)
    XCTAssertEqual(recorded.map(\.key), e.variants.map(\.key))
  }

  func testANewStudyIsLeftAsItIs() throws {
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan, name: "migrate"))
    let fresh = study.appendingPathComponent("not-yet")
    XCTAssertTrue(try IdentityMigration.migrate(e, in: StudyDirectory(fresh)).isEmpty)
    XCTAssertFalse(FileManager.default.fileExists(atPath: fresh.path), "opening creates nothing")
    // An empty folder given as --out stays empty (and so stays a folder a study may claim).
    try FileManager.default.createDirectory(at: fresh, withIntermediateDirectories: true)
    XCTAssertTrue(try IdentityMigration.migrate(e, in: StudyDirectory(fresh)).isEmpty)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fresh.path), [])
    XCTAssertNoThrow(try StudyDirectory(fresh).checkOwnership())
  }
}

/// A stage's result embeds its run's summary and is written flat, as results always were: a result
/// written before reads back, and one written now has the same keys.
final class StageResultFormatTests: XCTestCase {
  static let written = """
    {"budget_seconds": 20, "device": "cpu", "device_seconds": 9.5, "final_loss": 0.25, "id": "77bc7d185e", "images_per_second": 40,
     "loss_curve": [[1, 0.5], [10, 0.25]], "mask_ratio": 0.9, "name": "pretrain", "peak_memory_bytes": 1024, "run_directory": "runs/pretrain-77bc7d185e",
     "steps": 10, "train_seconds": 9, "wall_seconds": 12, "warmup_seconds": 0.5}
    """

  func testAResultWrittenBeforeReadsAndIsWrittenWithTheSameKeys() throws {
    let stage = try resultsDecoder.decode(StageResult.self, from: Data(Self.written.utf8))
    XCTAssertEqual(stage.run.steps, 10)
    XCTAssertEqual(stage.run.trainSeconds, 9)
    XCTAssertEqual(stage.run.runDirectory, "runs/pretrain-77bc7d185e")
    XCTAssertEqual(stage.run.lossCurve, [[1, 0.5], [10, 0.25]])
    XCTAssertEqual((stage.budgetSeconds, stage.maskRatio).0, 20)
    let again = try XCTUnwrap(try JSONSerialization.jsonObject(with: try resultsEncoder.encode(stage)) as? [String: Any])
    let before = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(Self.written.utf8)) as? [String: Any])
    XCTAssertEqual(Set(again.keys), Set(before.keys))
    XCTAssertEqual(try resultsDecoder.decode(StageResult.self, from: try resultsEncoder.encode(stage)), stage)
  }
}
