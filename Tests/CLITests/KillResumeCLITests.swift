import Foundation
import XCTest

/// SIGKILL at 20 seeded random points of a `train` run and of a `study run` — during checkpoint
/// writes, just after them (the metrics row and sample grid), mid-step, during evaluation and its
/// writes — each time resumed, ends with results bit-identical to an uninterrupted run: weights,
/// optimizer state, metrics rows (timings aside), sample grids, loss curves, FIDs, and nothing
/// half-written left behind. MASKDM_KILL_SEED replays another schedule; a failure prints the seed
/// and every kill point.
final class KillResumeCLITests: XCTestCase {
  static let kills = 20
  var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["MASKDM_KILL_SEED"] ?? "") ?? 20_261_202 }

  // MARK: train

  func testTrainKilledAtRandomPointsResumesBitIdentically() throws {
    let args = ["train", "configs/tiny.yaml", "--set", "train_steps=100", "--set", "save_and_sample_every=5", "--set", "log_every=5",
                "--set", "num_samples=2", "--set", "sampling_timesteps=2"]
    let straight = CLI.temporaryDirectory("kill-straight")
    defer { try? FileManager.default.removeItem(at: straight) }
    let started = Date()
    let reference = try CLI.run(args + ["-o", straight.path])
    XCTAssertEqual(reference.status, 0, reference.stderr)
    let wall = Date().timeIntervalSince(started)

    var generator = SplitMix64(seed: seed)
    // Kill points by kind, shuffled: the triggers that make progress (after a checkpoint, a time)
    // and those that make a run redo its work (during a checkpoint write, mid-step).
    var plan: [KillTrigger] = []
    for _ in 0..<6 { plan.append(.checkpointWrite(microseconds: Int(generator.next() % 4000))) }
    for _ in 0..<6 { plan.append(.afterLine("checkpoint step", milliseconds: Int(generator.next() % 30))) }
    for _ in 0..<4 { plan.append(.afterLine("] ", milliseconds: Int(generator.next() % 20))) }
    for _ in 0..<4 { plan.append(.time(milliseconds: Int(generator.next() % UInt64(max(wall * 400, 100))))) }
    plan.shuffle(using: &generator)

    var log: [String] = []
    var chains: [URL] = []
    defer { chains.forEach { try? FileManager.default.removeItem(at: $0) } }
    var kills = 0
    let deadline = Date().addingTimeInterval(150)
    while kills < Self.kills, Date() < deadline {
      let dir = CLI.temporaryDirectory("kill-chain")
      chains.append(dir)
      var finished = false
      while !finished, kills < Self.kills, Date() < deadline {
        let trigger = plan[kills]
        let outcome = try KillDriver.run(args + ["-o", dir.path, "--resume"], trigger: trigger, watching: [dir])
        if outcome.killed {
          kills += 1
          log.append("#\(kills) \(trigger): killed at step \(latestStep(dir).map(String.init) ?? "none")")
        } else {
          XCTAssertEqual(outcome.status, 0, "run after \(log.last ?? "the start") failed: \(outcome.stderr)")
          log.append("(\(trigger) did not fire: the run finished; a new run is killed next)")
          finished = true
        }
      }
      if !finished {
        let last = try CLI.run(args + ["-o", dir.path, "--resume"])
        XCTAssertEqual(last.status, 0, last.stderr)
      }
      let differences = RunComparison.differences(straight, dir)
      XCTAssertTrue(differences.isEmpty, "seed \(seed), kill points:\n\(log.joined(separator: "\n"))\ndifferences:\n"
                      + differences.joined(separator: "\n"))
    }
    XCTAssertEqual(kills, Self.kills, "seed \(seed), \(Int(Date().timeIntervalSince(started))) s: \(log.joined(separator: "\n"))")
    print("train killed \(kills) times (seed \(seed)) in \(Int(Date().timeIntervalSince(started))) s:\n" + log.joined(separator: "\n"))
  }

  // MARK: study run

  /// A study of one two-stage variant that trains and is evaluated (the mask-rate ablation's 0.75 is
  /// the baseline itself) and one whose data is missing: it fails at once, and is recorded.
  static let plan = """
    name: killtiny
    compare: steps
    base:
      batch_size: 8
      lr: 1.0e-3
      save_and_sample_every: 2
      num_samples: 0
      log_every: 2
      seed: 3
      dataset: {NAME: synthetic, COUNT: 64, IMG_SIZE: 16, MASK_RATIO: 0.0}
      network: {img_size: 16, patch_size: 4, in_chans: 3, encoder_embed_dim: 32, encoder_depth: 3, encoder_heads: 2}
    stages:
      - {name: pretrain, steps: 8, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 24}
    evaluation: {samples: 4, sampling_steps: 2, batch_size: 4, grid: 4, reference: {count: 4}}
    datasets:
      missing: {NAME: folder, PATH: /nonexistent/maskdm-kill-images}
    ablations:
      - {name: Mask, part: mask rate, action: REPLACE, replacements: [0.75]}
      - {name: Data, part: pre-training dataset, action: REPLACE, replacements: [missing]}
    """

  func testStudyKilledAtRandomPointsResumesBitIdentically() throws {
    let root = CLI.temporaryDirectory("kill-study")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    let planURL = root.appendingPathComponent("plan.yaml")
    try Self.plan.write(to: planURL, atomically: true, encoding: .utf8)
    func study(_ out: URL) -> [String] { ["study", "run", planURL.path, "--out", out.path] }
    let started = Date()
    let straight = root.appendingPathComponent("straight")
    let reference = try CLI.run(study(straight))
    XCTAssertEqual(reference.status, 3, "one variant fails (its data is missing): \(reference.stderr)")

    var generator = SplitMix64(seed: seed ^ 0x5354_5544_59)
    // Training kinds first (a stage's checkpoint writes, just after them, a stage starting, a time),
    // then the evaluation: during the FID, while its result is being written, just after.
    var training: [KillTrigger] = []
    for _ in 0..<6 { training.append(.checkpointWrite(microseconds: Int(generator.next() % 4000))) }
    for _ in 0..<4 { training.append(.afterLine("checkpoint step", milliseconds: Int(generator.next() % 30))) }
    for _ in 0..<2 { training.append(.afterLine("stage finetune", milliseconds: Int(generator.next() % 60))) }
    for _ in 0..<3 { training.append(.time(milliseconds: 300 + Int(generator.next() % 1000))) }
    training.shuffle(using: &generator)
    // In the order they can happen: while the evaluation's result is written (the kill redoes the
    // sampling and FID, the costly part: once), then just after results are written (the failed
    // variant's result is rewritten by every run, so these always fire).
    let evaluation: [KillTrigger] = [
      .stagingFile(in: "evaluations", microseconds: 0),
      .fileAppears(in: "results", milliseconds: Int(generator.next() % 3)),
      .fileAppears(in: "results", milliseconds: Int(generator.next() % 3)),
      .fileAppears(in: "results", milliseconds: 3 + Int(generator.next() % 10)),
      .fileAppears(in: "results", milliseconds: 5 + Int(generator.next() % 20)),
    ]
    let plan = training + evaluation

    var log: [String] = []
    var kills = 0
    var chain = 0
    let deadline = Date().addingTimeInterval(240)
    while kills < Self.kills, Date() < deadline {
      chain += 1
      let out = root.appendingPathComponent("killed-\(chain)")
      var finished = false
      while !finished, kills < Self.kills, Date() < deadline {
        let trigger = plan[kills]
        let outcome = try KillDriver.run(study(out), trigger: trigger, watching: [out])
        if outcome.killed {
          kills += 1
          log.append("#\(kills) \(trigger)")
        } else {
          XCTAssertEqual(outcome.status, 3, "study after \(log.last ?? "the start"): \(outcome.stderr)")
          log.append("(\(trigger) did not fire: the study finished; a new one is killed next)")
          finished = true
        }
      }
      if !finished {
        let last = try CLI.run(study(out))
        XCTAssertEqual(last.status, 3, last.stderr)
      }
      let differences = StudyComparison.differences(straight, out)
      XCTAssertTrue(differences.isEmpty, "seed \(seed), kill points:\n\(log.joined(separator: "\n"))\ndifferences:\n"
                      + differences.joined(separator: "\n"))
    }
    XCTAssertEqual(kills, Self.kills, "seed \(seed): \(log.joined(separator: "\n"))")
    print("study killed \(kills) times (seed \(seed)) in \(Int(Date().timeIntervalSince(started))) s:\n" + log.joined(separator: "\n"))
  }

  func latestStep(_ run: URL) -> Int? {
    (try? JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("latest/state.json"))) as? [String: Any])?["step"] as? Int
  }
}

/// When a process is killed.
enum KillTrigger: CustomStringConvertible {
  /// This long after it starts.
  case time(milliseconds: Int)
  /// While a checkpoint is being written: this long after a `checkpoints/.step-N.tmp` folder appears
  /// in a run directory under the watched folders.
  case checkpointWrite(microseconds: Int)
  /// This long after its output shows a new line containing the text.
  case afterLine(String, milliseconds: Int)
  /// This long after a staging file (`.NAME.tmp-…`) appears in the watched folder's subfolder.
  case stagingFile(in: String, microseconds: Int)
  /// This long after a file appears or is replaced in the watched folder's subfolder (or its subfolders).
  case fileAppears(in: String, milliseconds: Int)

  var description: String {
    switch self {
    case let .time(ms): return "\(ms) ms after the start"
    case let .checkpointWrite(us): return "\(us) µs into a checkpoint write"
    case let .afterLine(text, ms): return "\(ms) ms after a line with \"\(text)\""
    case let .stagingFile(folder, us): return "\(us) µs after a staging file in \(folder)/"
    case let .fileAppears(folder, ms): return "\(ms) ms after a new file in \(folder)/"
    }
  }
}

/// Runs a command until its trigger fires (then SIGKILL) or it exits.
enum KillDriver {
  struct Outcome {
    var killed: Bool
    var status: Int32
    var stderr: String
  }

  static func run(_ args: [String], trigger: KillTrigger, watching roots: [URL]) throws -> Outcome {
    let before = Set(roots.flatMap { files(under: $0, trigger) })
    let process = try CLI.start(args)
    let output = OutputCollector(process)
    let start = Date()
    let linesBefore = 0
    var fired = false
    // Polled often enough to land inside a checkpoint write (a few ms), and no more often than
    // that: the polling shares the CPU with the process it watches.
    while process.isRunning {
      var interval: UInt32 = 3000
      switch trigger {
      case let .time(ms):
        fired = Date().timeIntervalSince(start) * 1000 >= Double(ms)
      case .checkpointWrite, .stagingFile:
        fired = roots.contains { !files(under: $0, trigger).isEmpty }
        interval = 700
      case let .afterLine(text, _):
        fired = output.lines(containing: text) > linesBefore
      case .fileAppears:
        fired = roots.contains { !Set(files(under: $0, trigger)).subtracting(before).isEmpty }
        interval = 1000
      }
      if fired { break }
      usleep(interval)
    }
    if fired {
      switch trigger {
      case .time: break
      case let .checkpointWrite(us), let .stagingFile(_, us): usleep(UInt32(us))
      case let .afterLine(_, ms), let .fileAppears(_, ms): usleep(UInt32(ms * 1000))
      }
      kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    output.finish()
    let killed = process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    return Outcome(killed: killed, status: process.terminationStatus, stderr: output.stderr)
  }

  /// The files a trigger watches under `root`.
  static func files(under root: URL, _ trigger: KillTrigger) -> [String] {
    let fm = FileManager.default
    func list(_ dir: URL) -> [String] { (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] }
    switch trigger {
    case .checkpointWrite:
      let runs = [root] + list(root.appendingPathComponent("runs")).map { root.appendingPathComponent("runs/\($0)") }
      return runs.flatMap { run in list(run.appendingPathComponent("checkpoints")).filter { $0.hasPrefix(".step-") && $0.hasSuffix(".tmp") } }
    case let .stagingFile(folder, _):
      return list(root.appendingPathComponent(folder)).filter { $0.hasPrefix(".") && $0.contains(".tmp-") }
    case let .fileAppears(folder, _):
      let dir = root.appendingPathComponent(folder)
      // With the modification time: a file replaced by rename(2) counts as new.
      return list(dir).flatMap { name in [name] + list(dir.appendingPathComponent(name)).map { "\(name)/\($0)" } }
        .filter { !$0.split(separator: "/").last!.hasPrefix(".") }
        .map { path in
          let modified = (try? fm.attributesOfItem(atPath: dir.appendingPathComponent(path).path)[.modificationDate] as? Date)?.timeIntervalSince1970
          return "\(path)@\(modified ?? 0)"
        }
    case .time, .afterLine:
      return []
    }
  }
}

/// Collects a started process's output as it comes (both pipes drained, so it never blocks).
final class OutputCollector {
  private let lock = NSLock()
  private var err = Data()

  private let pipes: [Pipe]

  init(_ process: Process) {
    pipes = [process.standardOutput as! Pipe, process.standardError as! Pipe]
    pipes[0].fileHandleForReading.readabilityHandler = { handle in
      if handle.availableData.isEmpty { handle.readabilityHandler = nil }
    }
    pipes[1].fileHandleForReading.readabilityHandler = { [weak self] handle in
      let data = handle.availableData
      if data.isEmpty { handle.readabilityHandler = nil }
      self?.lock.lock()
      self?.err.append(data)
      self?.lock.unlock()
    }
  }

  /// After the process ended: waits (briefly) for the rest of its output, then stops reading.
  func finish() {
    let deadline = Date().addingTimeInterval(2)
    while pipes.contains(where: { $0.fileHandleForReading.readabilityHandler != nil }), Date() < deadline { usleep(2000) }
    pipes.forEach { $0.fileHandleForReading.readabilityHandler = nil }
  }

  var stderr: String {
    lock.lock()
    defer { lock.unlock() }
    return String(decoding: err, as: UTF8.self)
  }

  func lines(containing text: String) -> Int { stderr.split(separator: "\n").filter { $0.contains(text) }.count }
}

/// What must be equal between an uninterrupted run directory and a killed-and-resumed one.
enum RunComparison {
  /// Timings differ from run to run; everything else must not.
  static let timingKeys: Set<String> = ["images_per_second", "train_seconds"]

  static func differences(_ a: URL, _ b: URL) -> [String] {
    var out: [String] = []
    let fm = FileManager.default
    for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
      if (try? Data(contentsOf: a.appendingPathComponent("latest/\(file)"))) != (try? Data(contentsOf: b.appendingPathComponent("latest/\(file)"))) {
        out.append("\(b.lastPathComponent): latest/\(file) differs")
      }
    }
    let stateKeys = ["step", "loaderEpoch", "loaderIndex", "emaUpdates", "lastLoss", "seed", "checksums"]
    let (sa, sb) = (json(a.appendingPathComponent("latest/state.json")), json(b.appendingPathComponent("latest/state.json")))
    for key in stateKeys where !same(sa?[key], sb?[key]) { out.append("\(b.lastPathComponent): state.json \(key): \(sa?[key] ?? "-") vs \(sb?[key] ?? "-")") }
    let (ma, mb) = (metrics(a), metrics(b))
    if ma.count != mb.count { out.append("\(b.lastPathComponent): metrics.jsonl has \(mb.count) rows, not \(ma.count)") }
    for (i, (x, y)) in zip(ma, mb).enumerated() where !same(x, y) {
      out.append("\(b.lastPathComponent): metrics row \(i): \(x) vs \(y)")
      break
    }
    let (ga, gb) = (listing(a.appendingPathComponent("samples")), listing(b.appendingPathComponent("samples")))
    if ga != gb { out.append("\(b.lastPathComponent): sample grids \(gb) instead of \(ga)") }
    for name in ga where (try? Data(contentsOf: a.appendingPathComponent("samples/\(name)"))) != (try? Data(contentsOf: b.appendingPathComponent("samples/\(name)"))) {
      out.append("\(b.lastPathComponent): samples/\(name) differs")
    }
    let (ua, ub) = (json(a.appendingPathComponent("summary.json")), json(b.appendingPathComponent("summary.json")))
    for key in ["steps", "finalLoss", "lossCurve"] where !same(ua?[key], ub?[key]) {
      out.append("\(b.lastPathComponent): summary.json \(key) differs")
    }
    let (ca, cb) = (listing(a.appendingPathComponent("checkpoints")), listing(b.appendingPathComponent("checkpoints")))
    if ca != cb { out.append("\(b.lastPathComponent): checkpoints \(cb) instead of \(ca)") }
    if let walker = fm.enumerator(atPath: b.path) {
      for case let path as String in walker where path.contains(".tmp") { out.append("\(b.lastPathComponent): \(path) left behind") }
    }
    return out
  }

  static func json(_ url: URL) -> [String: Any]? {
    (try? Data(contentsOf: url)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
  }

  static func metrics(_ run: URL) -> [[String: Any]] {
    ((try? String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n").map {
      ((try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) ?? ["unreadable": String($0)]).filter { !timingKeys.contains($0.key) }
    }
  }

  static func listing(_ dir: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

  static func same(_ x: Any?, _ y: Any?) -> Bool {
    switch (x, y) {
    case (nil, nil): return true
    case let (x?, y?):
      let options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed]
      return (try? JSONSerialization.data(withJSONObject: x, options: options)) == (try? JSONSerialization.data(withJSONObject: y, options: options))
    default: return false
    }
  }
}

/// What must be equal between an uninterrupted study and a killed-and-resumed one.
enum StudyComparison {
  static let resultKeys = ["status", "fid", "fid_bootstrap_low", "fid_bootstrap_high", "kid_mean", "kid_std", "fid_samples", "grid", "key", "error"]
  static let stageKeys = ["name", "steps", "final_loss", "loss_curve", "run_directory"]

  static func differences(_ a: URL, _ b: URL) -> [String] {
    var out: [String] = []
    func results(_ dir: URL) -> [[String: Any]] {
      ((RunComparison.json(dir.appendingPathComponent("results.json"))?["variants"] as? [[String: Any]]) ?? [])
        .flatMap { ($0["per_seed"] as? [[String: Any]]) ?? [] }
    }
    let (ra, rb) = (results(a), results(b))
    if ra.count != rb.count { out.append("results.json holds \(rb.count) results, not \(ra.count)") }
    for (x, y) in zip(ra, rb) {
      for key in resultKeys where !RunComparison.same(x[key], y[key]) { out.append("results.json \(x["name"] ?? "?") \(key): \(x[key] ?? "-") vs \(y[key] ?? "-")") }
      let (sx, sy) = ((x["stages"] as? [[String: Any]]) ?? [], (y["stages"] as? [[String: Any]]) ?? [])
      if sx.count != sy.count { out.append("results.json \(x["name"] ?? "?"): \(sy.count) stages, not \(sx.count)") }
      for (p, q) in zip(sx, sy) {
        for key in stageKeys where !RunComparison.same(p[key], q[key]) { out.append("results.json stage \(p["name"] ?? "?") \(key) differs") }
      }
    }
    for folder in ["grids", "evaluations"] {
      let (la, lb) = (RunComparison.listing(a.appendingPathComponent(folder)), RunComparison.listing(b.appendingPathComponent(folder)))
      if la != lb { out.append("\(folder): \(lb) instead of \(la)") }
    }
    for grid in RunComparison.listing(a.appendingPathComponent("grids"))
    where (try? Data(contentsOf: a.appendingPathComponent("grids/\(grid)"))) != (try? Data(contentsOf: b.appendingPathComponent("grids/\(grid)"))) {
      out.append("grids/\(grid) differs")
    }
    for file in RunComparison.listing(a.appendingPathComponent("evaluations")) {
      let (x, y) = (RunComparison.json(a.appendingPathComponent("evaluations/\(file)")), RunComparison.json(b.appendingPathComponent("evaluations/\(file)")))
      for key in ["fid", "fidBootstrapLow", "fidBootstrapHigh", "kidMean", "kidStd", "grid"] where !RunComparison.same(x?[key], y?[key]) {
        out.append("evaluations/\(file) \(key): \(x?[key] ?? "-") vs \(y?[key] ?? "-")")
      }
    }
    let runs = RunComparison.listing(a.appendingPathComponent("runs"))
    if runs != RunComparison.listing(b.appendingPathComponent("runs")) { out.append("runs/ differs: \(RunComparison.listing(b.appendingPathComponent("runs")))") }
    for run in runs {
      out += RunComparison.differences(a.appendingPathComponent("runs/\(run)"), b.appendingPathComponent("runs/\(run)"))
    }
    return out
  }
}

/// A seeded generator (SplitMix64): the same seed, the same kill points.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
