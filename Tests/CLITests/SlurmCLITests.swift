import Foundation
import XCTest

/// A study submitted as its emitted Slurm graph to a one-node Slurm on this machine
/// (scripts/slurm_local.sh): every job runs, the study directory ends complete, and equal to the
/// same study run without Slurm. Bounded: a daemon or job that hangs fails the test, and the
/// daemons are stopped however the test ends.
final class SlurmCLITests: XCTestCase {
  /// Two variants that share their pre-training: the baseline and fine-tuning on half the data.
  static let plan = """
    name: slurmtiny
    compare: steps
    \(StudyCLITests.tinyBase(seed: 11, checkpointEvery: 10))
    stages:
      - {name: pretrain, steps: 6, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 10}
    evaluation: {samples: 6, sampling_steps: 2, batch_size: 6, grid: 4, reference: {count: 6}}
    ablations:
      - {name: Limited data, part: fine-tuning data fraction, action: REPLACE, replacements: [0.5]}
    """

  func testEmittedGraphRunsUnderSlurmAndMatchesARunWithoutIt() throws {
    for tool in ["/usr/bin/sbatch", "/usr/bin/squeue", "/usr/sbin/slurmctld", "/usr/sbin/munged"]
    where !FileManager.default.isExecutableFile(atPath: tool) {
      throw MissingTool("\(tool) is missing: install Slurm and munge (bash scripts/bootstrap.sh, or apt-get install slurm-wlm munge)")
    }
    let dir = CLI.temporaryDirectory("slurm")
    let cluster = dir.appendingPathComponent("cluster")
    let bash = URL(fileURLWithPath: "/bin/bash")
    let script = CLI.packageRoot.appendingPathComponent("scripts/slurm_local.sh").path
    defer {
      _ = try? CLI.run([script, "stop", cluster.path], deadline: 30, executable: bash)
      try? FileManager.default.removeItem(at: dir)
    }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let up = try CLI.run([script, "start", cluster.path, "\(getpid())"], deadline: 60, executable: bash)
    XCTAssertEqual(up.status, 0, up.stdout + up.stderr)
    guard up.status == 0 else { return }
    let slurm = ["SLURM_CONF": cluster.appendingPathComponent("slurm.conf").path]

    let planURL = dir.appendingPathComponent("plan.yaml")
    try Self.plan.write(to: planURL, atomically: true, encoding: .utf8)
    let viaSlurm = dir.appendingPathComponent("via-slurm"), direct = dir.appendingPathComponent("direct")
    let emitted = try CLI.run(["study", "run", planURL.path, "--out", viaSlurm.path, "--emit-slurm", "--time", "00:10:00"])
    XCTAssertEqual(emitted.status, 0, emitted.stderr)
    // The graph: the shared pre-training, two variant jobs after it, the report after them.
    let lines = emitted.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
    XCTAssertEqual(lines.count, 4, emitted.stdout)
    XCTAssertTrue(lines.first?.contains("stage-pretrain-") == true, emitted.stdout)
    XCTAssertEqual(lines.filter { $0.contains("afterok: stage-pretrain-") }.count, 2, emitted.stdout)
    XCTAssertTrue(lines.last?.hasPrefix("  report") == true && lines.last?.contains("afterany:") == true, emitted.stdout)

    let started = Date()
    let submitted = try CLI.run([viaSlurm.appendingPathComponent("slurm.sh").path], environment: slurm, deadline: 60, executable: bash)
    XCTAssertEqual(submitted.status, 0, submitted.stdout + submitted.stderr)
    XCTAssertTrue(submitted.stdout.contains("submitted 4 jobs"), submitted.stdout)
    let squeue = URL(fileURLWithPath: "/usr/bin/squeue")
    let deadline = Date().addingTimeInterval(300)
    var queued = "?"
    while Date() < deadline {
      queued = try CLI.run(["-h", "-o", "%i %j %T %r"], environment: slurm, deadline: 30, executable: squeue).stdout
      if queued.isEmpty { break }
      sleep(1)
    }
    let logs = { () -> String in
      let folder = viaSlurm.appendingPathComponent("slurm")
      let outs = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".out") }.sorted()
      return outs.map { "--- \($0):\n" + ((try? String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8)) ?? "") }.joined()
    }
    guard queued.isEmpty else {
      _ = try? CLI.run(["--user=root"], environment: slurm, deadline: 30, executable: URL(fileURLWithPath: "/usr/bin/scancel"))
      return XCTFail("the jobs did not finish in 300 s; still queued:\n\(queued)\n\(logs())")
    }
    let slurmSeconds = Date().timeIntervalSince(started)
    // Every job completed with status 0 (the controller keeps finished jobs for MinJobAge).
    let shown = try CLI.run(["show", "job", "-o"], environment: slurm, deadline: 30, executable: URL(fileURLWithPath: "/usr/bin/scontrol"))
    let states = shown.stdout.split(separator: "\n").map { line in line.split(separator: " ").filter { $0.hasPrefix("JobState=") || $0.hasPrefix("ExitCode=") }.joined(separator: " ") }
    XCTAssertEqual(states.count, 4, shown.stdout)
    XCTAssertTrue(states.allSatisfy { $0 == "JobState=COMPLETED ExitCode=0:0" }, "\(states)\n\(logs())")

    let startedDirect = Date()
    let plain = try CLI.run(["study", "run", planURL.path, "--out", direct.path], deadline: 300)
    XCTAssertEqual(plain.status, 0, plain.stderr)
    let directSeconds = Date().timeIntervalSince(startedDirect)

    // Complete: the report, and every variant's result.
    for file in ["report.html", "report.md", "results.json", "results.csv"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: viaSlurm.appendingPathComponent(file).path), "\(file) missing\n\(logs())")
    }
    func results(_ root: URL) throws -> [[String: Any]] {
      let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("results.json"))) as? [String: Any]
      return (doc?["variants"] as? [[String: Any]] ?? []).flatMap { $0["per_seed"] as? [[String: Any]] ?? [] }
        .sorted { ($0["slug"] as? String ?? "") < ($1["slug"] as? String ?? "") }
    }
    let (a, b) = (try results(viaSlurm), try results(direct))
    XCTAssertEqual(a.count, 2)
    XCTAssertEqual(a.count, b.count)
    for (x, y) in zip(a, b) {
      XCTAssertEqual(x["status"] as? String, "finished", "\(x)")
      XCTAssertEqual(x["slug"] as? String, y["slug"] as? String)
      XCTAssertEqual(x["key"] as? String, y["key"] as? String)
      let fid = (x["fid"] as? Double, y["fid"] as? Double)
      XCTAssertNotNil(fid.0)
      XCTAssertEqual(fid.0, fid.1, "FID of \(x["slug"] ?? "?") differs between the Slurm graph and a plain run")
      let stages = { (r: [String: Any]) in (r["stages"] as? [[String: Any]] ?? []).map { "\($0["run_directory"] ?? "") \($0["steps"] ?? "") \($0["final_loss"] ?? "")" } }
      XCTAssertEqual(stages(x), stages(y))
    }
    // The same runs, with the same weights.
    let runs = { (root: URL) in ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("runs").path)) ?? []).sorted() }
    XCTAssertEqual(runs(viaSlurm), runs(direct))
    XCTAssertEqual(runs(direct).count, 3, "one shared pre-training, two fine-tunings")
    for run in runs(direct) {
      let path = "runs/\(run)/latest/ema.safetensors"
      XCTAssertEqual(try Data(contentsOf: viaSlurm.appendingPathComponent(path)), try Data(contentsOf: direct.appendingPathComponent(path)), path)
    }
    print(String(format: "slurm graph: 4 jobs done in %.1f s; the same study without Slurm %.1f s", slurmSeconds, directSeconds))
  }
}
