import Foundation
import XCTest

/// `maskdm study` as a user runs it: a study killed midway finishes on the next run without
/// redoing finished work, a failing variant is recorded while the rest go on, the report holds
/// charts, grids and every variant, and the seed plans import and expand.
final class StudyCLITests: XCTestCase {
  /// The `base:` of the CLI tests' plans: a 16px U-ViT of dim 32 on 64 synthetic images, batch 8.
  static func tinyBase(seed: Int, checkpointEvery: Int) -> String {
    """
    base:
      batch_size: 8
      lr: 1.0e-3
      save_and_sample_every: \(checkpointEvery)
      num_samples: 0
      log_every: 5
      seed: \(seed)
      dataset: {NAME: synthetic, COUNT: 64, IMG_SIZE: 16, MASK_RATIO: 0.0}
      network: {img_size: 16, patch_size: 4, in_chans: 3, encoder_embed_dim: 32, encoder_depth: 3, encoder_heads: 2}
    """
  }

  /// A tiny plan: three variants (baseline, no position embedding, and one whose data does not exist).
  static let plan = """
    name: clitiny
    compare: steps
    \(tinyBase(seed: 3, checkpointEvery: 5))
    stages:
      - {name: pretrain, steps: 6, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 40}
    evaluation: {samples: 6, sampling_steps: 2, batch_size: 6, grid: 4, reference: {count: 6}}
    datasets:
      missing: {NAME: folder, PATH: /nonexistent/maskdm-study-images}
    ablations:
      - {name: Positional information, part: position embedding, action: REMOVE}
      - {name: Data, part: pre-training dataset, action: REPLACE, replacements: [missing]}
    """

  func testKilledStudyFinishesWithoutRedoingFinishedRuns() throws {
    let dir = CLI.temporaryDirectory("study")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let planURL = dir.appendingPathComponent("plan.yaml")
    try Self.plan.write(to: planURL, atomically: true, encoding: .utf8)
    let out = dir.appendingPathComponent("out")
    let args = ["study", "run", planURL.path, "--out", out.path]

    // Kill it once the first fine-tuning has a checkpoint but before it finishes.
    let process = try CLI.start(args)
    let runs = out.appendingPathComponent("runs")
    func runDirectory(_ prefix: String) -> URL? {
      ((try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []).filter { $0.hasPrefix(prefix) }.sorted().first
        .map { runs.appendingPathComponent($0) }
    }
    let deadline = Date().addingTimeInterval(300)
    while process.isRunning, Date() < deadline {
      if let f = runDirectory("finetune-"), FileManager.default.fileExists(atPath: f.appendingPathComponent("latest/state.json").path) { break }
      usleep(2000)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the study finished before it could be killed")
    let pretrain = try XCTUnwrap(runDirectory("pretrain-"))
    let summaryBefore = try Data(contentsOf: pretrain.appendingPathComponent("summary.json"))
    let modifiedBefore = try FileManager.default.attributesOfItem(atPath: pretrain.appendingPathComponent("summary.json").path)[.modificationDate] as? Date

    let second = try CLI.run(args)
    XCTAssertEqual(second.status, 3, "one variant fails (its data is missing), the command says so: \(second.stderr)")
    XCTAssertTrue(second.stderr.contains("stage pretrain (\(pretrain.lastPathComponent)) finished earlier, reused"), second.stderr)
    XCTAssertTrue(second.stderr.contains("stage finetune") && second.stderr.contains("resumes"), second.stderr)
    XCTAssertEqual(try Data(contentsOf: pretrain.appendingPathComponent("summary.json")), summaryBefore)
    let modifiedAfter = try FileManager.default.attributesOfItem(atPath: pretrain.appendingPathComponent("summary.json").path)[.modificationDate] as? Date
    XCTAssertEqual(modifiedBefore, modifiedAfter, "the finished pre-training was not trained again")

    // results.json: the protocol, one summary per variant with its per-seed results, the failure recorded with its cause.
    let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json"))) as? [String: Any])
    let proto = try XCTUnwrap(document["protocol"] as? [String: Any])
    XCTAssertEqual(proto["samples_per_fid"] as? Int, 6)
    XCTAssertEqual(proto["training_seeds"] as? [Int], [3])
    XCTAssertEqual(proto["budget"] as? String, "equal steps")
    let variants = try XCTUnwrap(document["variants"] as? [[String: Any]])
    XCTAssertEqual(variants.count, 3)
    let results = variants.flatMap { ($0["per_seed"] as? [[String: Any]]) ?? [] }
    XCTAssertEqual(results.count, 3)
    let finished = results.filter { $0["status"] as? String == "finished" }
    XCTAssertEqual(finished.count, 2)
    for r in finished {
      XCTAssertTrue((r["fid"] as? Double)?.isFinite == true, "\(r)")
      XCTAssertEqual(r["seed"] as? Int, 3)
      XCTAssertEqual(r["fid_samples"] as? Int, 6)
      XCTAssertNotNil(r["kid_mean"] as? Double)
      let (lo, hi) = (r["fid_bootstrap_low"] as? Double ?? .nan, r["fid_bootstrap_high"] as? Double ?? .nan)
      XCTAssertTrue(lo <= hi, "a bootstrap interval of the FID: \(r)")
      XCTAssertGreaterThan(r["training_seconds"] as? Double ?? 0, 0)
      XCTAssertEqual((r["stages"] as? [[String: Any]])?.map { $0["steps"] as? Int }, [6, 40])
      // The evaluation's time by part: sampling, Inception features, metrics.
      let time = try XCTUnwrap(((r["stages"] as? [[String: Any]])?.last?["evaluation"] as? [String: Any])?["time"] as? [String: Double], "\(r)")
      XCTAssertGreaterThan(time["sampling"] ?? 0, 0)
      XCTAssertGreaterThan(time["features"] ?? 0, 0)
      XCTAssertGreaterThanOrEqual(time["statistics"] ?? -1, 0)
    }
    let failed = try XCTUnwrap(results.first { $0["status"] as? String == "failed" })
    XCTAssertTrue((failed["error"] as? String ?? "").contains("/nonexistent/maskdm-study-images"), "\(failed)")

    let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
    XCTAssertTrue(html.contains("<svg") && html.contains("<polyline"), "charts")
    XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 2, "one sample grid per finished variant")
    XCTAssertFalse(html.contains("src=\"http") || html.contains("href=\"http"), "nothing is fetched from the network")
    let md = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
    for name in ["two-stage (MaskDM)", "Positional information: without position embedding", "Data: missing"] {
      XCTAssertTrue(md.contains(name), name)
      XCTAssertTrue(html.contains(name), name)
    }
    XCTAssertTrue(md.contains("## Where the time went") && md.contains("| Inception features |"), md)
    XCTAssertTrue(html.contains("<h2>Where the time went</h2>"), "the same section in the HTML report")
    let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
    XCTAssertTrue(csv.hasPrefix("name,seed,status,fid,fid_bootstrap_low"))
    XCTAssertEqual(csv.split(separator: "\n").count, 4)

    // A third run keeps every finished variant and trains nothing.
    let third = try CLI.run(args)
    XCTAssertTrue(third.stderr.contains("two-stage (MaskDM), seed 3: finished earlier"), third.stderr)
    XCTAssertFalse(third.stderr.contains("stage finetune"), third.stderr)
    XCTAssertEqual(third.stderr.components(separatedBy: " starts").count - 1, 1, "only the failed variant is tried again: \(third.stderr)")
  }

  func testSeedPlansImportExpandAndEmitSlurm() throws {
    let dir = CLI.temporaryDirectory("seeds")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let seeds = CLI.packageRoot.appendingPathComponent("plans/seeds")
    let files = try FileManager.default.contentsOfDirectory(atPath: seeds.path).filter { $0.hasSuffix(".txt") }.sorted()
    XCTAssertGreaterThanOrEqual(files.count, 2)
    for file in files {
      let plan = dir.appendingPathComponent("\(file).yaml").path
      let imported = try CLI.run(["study", "import", seeds.appendingPathComponent(file).path, "-o", plan])
      XCTAssertEqual(imported.status, 0, imported.stderr)
      let listed = try CLI.run(["study", "run", plan, "--preset", "quick", "--dry-run"])
      XCTAssertEqual(listed.status, 0, listed.stderr)
      XCTAssertTrue(listed.stdout.contains("variants"), listed.stdout)
      let slurm = try CLI.run(["study", "run", plan, "--preset", "paper", "--out", dir.appendingPathComponent("s-\(file)").path, "--emit-slurm"])
      XCTAssertEqual(slurm.status, 0, slurm.stderr)
      let script = dir.appendingPathComponent("s-\(file)/slurm.sh")
      let text = try String(contentsOf: script, encoding: .utf8)
      XCTAssertTrue(text.contains("sbatch --parsable") && text.contains("--dependency=afterany:"), text)
      let jobs = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("s-\(file)/slurm").path)
      XCTAssertTrue(jobs.contains("report.sh"), "\(jobs)")
      for job in jobs {
        let body = try String(contentsOf: dir.appendingPathComponent("s-\(file)/slurm/\(job)"), encoding: .utf8)
        if job != "report.sh" {
          // A paper-preset training job asks for a GPU and trains on it with the CUDA build of MLX.
          XCTAssertTrue(body.contains("#SBATCH --gres=gpu:1") && body.contains("'--device' 'gpu'") && body.contains("LD_LIBRARY_PATH="), body)
        }
      }
      for path in [script.path] + jobs.map({ dir.appendingPathComponent("s-\(file)/slurm/\($0)").path }) {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/bash")
        check.arguments = ["-n", path]
        try check.run()
        check.waitUntilExit()
        XCTAssertEqual(check.terminationStatus, 0, "\(path) is valid bash")
      }
    }
    let bad = dir.appendingPathComponent("bad.md")
    try "## Ablation Plan\n### X\n- **Ablated Part**: the logo colour\n- **Action**: REMOVE\n".write(to: bad, atomically: true, encoding: .utf8)
    let refused = try CLI.run(["study", "import", bad.path, "-o", dir.appendingPathComponent("bad.yaml").path])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.stderr.contains("unknown ablated part") && refused.stderr.contains("mask rate"), refused.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.yaml").path))
  }

  /// A plan of three with one unreadable ablation: the import writes the two it read (and the third
  /// commented out, with what to edit), exits non-zero naming it, and the written plan runs.
  func testAnUnreadableAblationLeavesARunnablePlan() throws {
    let dir = CLI.temporaryDirectory("partial-import")
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let seed = dir.appendingPathComponent("three.md"), plan = dir.appendingPathComponent("three.yaml")
    try """
      ## Ablation Plan
      ### Masks
      - **Ablated Part**: masking strategy
      - **Action**: REPLACE
      - **Replacement**: block, crop
      - **Metrics**: FID
      ### Context
      - **Ablated Part**: sequence length of the noise schedule
      - **Action**: REPLACE
      - **Replacement**: 64, 256
      - **Metrics**: FID
      ### No EMA
      - **Ablated Part**: weight averaging
      - **Action**: REMOVE
      - **Metrics**: FID
      """.write(to: seed, atomically: true, encoding: .utf8)
    let imported = try CLI.run(["study", "import", seed.path, "-o", plan.path, "--explain"])
    XCTAssertNotEqual(imported.status, 0, "a script must notice the ablation left out")
    XCTAssertTrue(imported.stderr.contains("1 of 3 ablations not imported: ablation Context") && imported.stderr.contains("noise schedule"),
                  imported.stderr)
    XCTAssertTrue(imported.stdout.contains("the authors' default") && imported.stdout.contains("raw (not averaged) weights"), imported.stdout)
    let text = try String(contentsOf: plan, encoding: .utf8)
    XCTAssertTrue(text.contains("# NOT IMPORTED: ablation Context") && text.contains("#   part: sequence length of the noise schedule"), text)
    let listed = try CLI.run(["study", "run", plan.path, "--dry-run"])
    XCTAssertEqual(listed.status, 0, listed.stderr)
    XCTAssertTrue(listed.stdout.contains("Masks: block 4") && listed.stdout.contains("No EMA: ema_decay = 0"), listed.stdout)
    XCTAssertFalse(listed.stdout.contains("Context"), listed.stdout)
  }
}
