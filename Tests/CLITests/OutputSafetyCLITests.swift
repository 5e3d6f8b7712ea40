import Foundation
import XCTest

/// Outputs never overwrite what the tool did not write; temporary files are private; a damaged
/// results file fails `study report`; and the smaller findings of issue 39, each as a user meets it.
final class OutputSafetyCLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"

  func folder(_ name: String) throws -> URL {
    let dir = CLI.temporaryDirectory(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  func testTrainRefusesAFolderOfTheUsersAndResumingBelowItsStep() throws {
    let dir = try folder("train-out")
    let mine = dir.appendingPathComponent("config.yaml")
    try "# my own notes\nlr: 1\n".write(to: mine, atomically: true, encoding: .utf8)
    let r = try CLI.run(["train", tiny, "--set", "train_steps=2", "-o", dir.path], deadline: 120)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("holds files this tool did not write (config.yaml)"), r.stderr)
    XCTAssertEqual(try String(contentsOf: mine, encoding: .utf8), "# my own notes\nlr: 1\n", "the user's config was replaced")

    let run = dir.appendingPathComponent("run")
    let common = ["--set", "num_samples=0", "--set", "save_and_sample_every=4", "--set", "log_every=2"]
    let first = try CLI.run(["train", tiny, "--set", "train_steps=4"] + common + ["-o", run.path], deadline: 300)
    XCTAssertEqual(first.status, 0, first.stderr)
    let back = try CLI.run(["train", tiny, "--set", "train_steps=2"] + common + ["-o", run.path, "--resume"], deadline: 120)
    XCTAssertNotEqual(back.status, 0)
    XCTAssertTrue(back.stderr.contains("is at step 4, and train_steps 2 is below it"), back.stderr)
    XCTAssertFalse(back.stdout.contains("resuming at step 4/2"), back.stdout)

    let twice = try CLI.run(["train", tiny, "--set", "lr=1e-3", "--set", "lr=2e-3", "--dry-run", "-o", run.path])
    XCTAssertNotEqual(twice.status, 0)
    XCTAssertTrue(twice.stderr.contains("--set gives lr twice (lr=1e-3 and lr=2e-3)"), twice.stderr)
  }

  func testStudyReportAndImportRefuseTheUsersFiles() throws {
    let dir = try folder("study-out")
    let plan = dir.appendingPathComponent("plan.yaml")
    try (StudyCLITests.plan).write(to: plan, atomically: true, encoding: .utf8)
    let notes = dir.appendingPathComponent("notes")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
    try "my report".write(to: notes.appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
    let r = try CLI.run(["study", "report", plan.path, "--out", notes.path])
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("holds files this tool did not write (report.md)"), r.stderr)
    XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("report.md"), encoding: .utf8), "my report")
    // A report into a new folder, and again: the second replaces the tool's own files.
    let fresh = dir.appendingPathComponent("fresh")
    for _ in 0..<2 {
      let again = try CLI.run(["study", "report", plan.path, "--out", fresh.path])
      XCTAssertEqual(again.status, 0, again.stderr)
    }

    let seed = dir.appendingPathComponent("seed.md")
    let text = "### Positional information\n- **Ablated Part**: position embedding\n- **Action**: REMOVE\n"
    try text.write(to: seed, atomically: true, encoding: .utf8)
    let same = try CLI.run(["study", "import", seed.path, "-o", seed.path])
    XCTAssertNotEqual(same.status, 0)
    XCTAssertTrue(same.stderr.contains("is the input"), same.stderr)
    XCTAssertEqual(try String(contentsOf: seed, encoding: .utf8), text, "the markdown source was replaced")
    let other = dir.appendingPathComponent("other.yaml")
    try "name: mine\n".write(to: other, atomically: true, encoding: .utf8)
    let foreign = try CLI.run(["study", "import", seed.path, "-o", other.path])
    XCTAssertNotEqual(foreign.status, 0)
    XCTAssertTrue(foreign.stderr.contains("is not a plan this tool wrote"), foreign.stderr)
    // Its own earlier output may be replaced.
    let mine = dir.appendingPathComponent("imported.yaml")
    for _ in 0..<2 {
      let ok = try CLI.run(["study", "import", seed.path, "-o", mine.path])
      XCTAssertEqual(ok.status, 0, ok.stderr)
    }
  }

  func testADamagedResultsFileFailsStudyReportAndIsNamed() throws {
    let dir = try folder("damaged")
    let plan = dir.appendingPathComponent("plan.yaml")
    try (StudyCLITests.plan).write(to: plan, atomically: true, encoding: .utf8)
    let study = dir.appendingPathComponent("study")
    let dry = try CLI.run(["study", "run", plan.path, "--out", study.path, "--dry-run"])
    XCTAssertEqual(dry.status, 0, dry.stderr)
    // "- NAME [slug] …": the first variant's slug; the plan's seed is 3.
    let line = try XCTUnwrap(dry.stdout.split(separator: "\n").first { $0.hasPrefix("- ") })
    let slug = String(line.split(separator: "[")[1].split(separator: "]")[0])
    let file = study.appendingPathComponent("results/\(slug)/seed-3.json")
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try "{\"name\": \"x\", \"fid\": ".write(to: file, atomically: true, encoding: .utf8)
    let r = try CLI.run(["study", "report", plan.path, "--out", study.path])
    XCTAssertEqual(r.status, 4, r.stdout + r.stderr)
    XCTAssertTrue(r.stderr.contains("\(file.path) is damaged: it is not a result this tool writes"), r.stderr)
  }

  func testSampleAndFIDStatsRefuseWhatTheyWouldBreak() throws {
    let dir = try folder("sample-out")
    let file = dir.appendingPathComponent("photo.png")
    try Data("not ours".utf8).write(to: file)
    let sample = try CLI.run(["sample", dir.appendingPathComponent("no-run").path, "-n", "2", "--out", file.path])
    XCTAssertNotEqual(sample.status, 0)
    XCTAssertTrue(sample.stderr.contains("--out \(file.path) is a file; it must name a folder"), sample.stderr)
    XCTAssertFalse(sample.stderr.contains("NSCocoaErrorDomain"), sample.stderr)
    let intoPhotos = try CLI.run(["sample", dir.appendingPathComponent("no-run").path, "-n", "2", "--out", dir.path])
    XCTAssertTrue(intoPhotos.stderr.contains("holds files this tool did not write (photo.png)"), intoPhotos.stderr)

    let stats = try CLI.run(["fid", "stats", dir.path, "-o", file.path])
    XCTAssertNotEqual(stats.status, 0)
    XCTAssertTrue(stats.stderr.contains("exists and is not a .npz of FID statistics this tool wrote"), stats.stderr)
    XCTAssertEqual(try Data(contentsOf: file), Data("not ours".utf8))
    let one = try CLI.run(["fid", "stats", dir.path, "-o", dir.appendingPathComponent("s.npz").path, "--limit", "1"])
    XCTAssertNotEqual(one.status, 0)
    XCTAssertTrue(one.stderr.contains("--limit must be at least 2"), one.stderr)
  }

  func testLaunchWritesItsHostFileInAPrivateFolder() throws {
    // The name launch once used: a link planted there by another user must not be written through.
    let victim = try folder("launch").appendingPathComponent("victim")
    try "keep".write(to: victim, atomically: true, encoding: .utf8)
    let script = "f=$MLX_HOSTFILE; echo \"$f\"; stat -c %a \"$(dirname \"$f\")\"; cat \"$f\""
    let r = try CLI.run(["launch", "-n", "1", "--", "/bin/sh", "-c", script], deadline: 60)
    XCTAssertEqual(r.status, 0, r.stderr)
    let lines = r.stdout.split(separator: "\n")
    XCTAssertGreaterThanOrEqual(lines.count, 3, r.stdout)
    XCTAssertFalse(lines[0].contains("maskdm-hostfile-"), "a predictable name: \(lines[0])")
    XCTAssertEqual(lines[1], "700", "the host file's folder is private")
    XCTAssertTrue(lines[2].contains("127.0.0.1:"), r.stdout)
    XCTAssertFalse(FileManager.default.fileExists(atPath: String(lines[0])), "the host file is removed when the job ends")
    XCTAssertEqual(try String(contentsOf: victim, encoding: .utf8), "keep")
  }
}
