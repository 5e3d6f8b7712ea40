import Foundation
import XCTest

/// Data-parallel training under Open MPI's `mpirun` (MLX's mpi backend) on loopback, as on a CPU
/// cluster: the same training as one process, a killed job resumes bit-identically, and without
/// libmpi the error names Open MPI and how to install it. The bootstrap installs Open MPI; a
/// machine without it fails these tests, saying so.
final class MPICLITests: XCTestCase {
  let tiny = "configs/tiny.yaml"
  let common = ["--set", "train_steps=10", "--set", "batch_size=16", "--set", "num_samples=0", "--set", "log_every=5",
                "--set", "save_and_sample_every=10"]

  /// mpirun, or a failure that says how to get it.
  func mpirun() throws -> URL {
    let url = URL(fileURLWithPath: "/usr/bin/mpirun")
    guard FileManager.default.isExecutableFile(atPath: url.path) else {
      throw MissingTool("mpirun is missing: install Open MPI (bash scripts/bootstrap.sh, or apt-get install openmpi-bin libopenmpi-dev)")
    }
    return url
  }

  /// `mpirun -np 2 maskdm args…` over TCP on loopback (the shared-memory transport needs ptrace
  /// rights that containers often lack; TCP is what a cluster's nodes use anyway).
  func mpiArguments(_ args: [String]) -> [String] {
    ["--allow-run-as-root", "--oversubscribe", "-np", "2", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo",
     "--mca", "oob_tcp_if_include", "lo", CLI.binary.path] + args + ["--distributed", "--backend", "mpi"]
  }

  func testTwoMPIProcessesMatchOneProcess() throws {
    let mpirun = try mpirun()
    let single = CLI.temporaryDirectory("mpi-single"), pair = CLI.temporaryDirectory("mpi-pair"), start = CLI.temporaryDirectory("mpi-start")
    defer { [single, pair, start].forEach { try? FileManager.default.removeItem(at: $0) } }
    let one = try CLI.run(["train", tiny] + common + ["-o", single.path])
    XCTAssertEqual(one.status, 0, one.stderr)
    let two = try CLI.run(mpiArguments(["train", tiny] + common + ["-o", pair.path]), deadline: 240, executable: mpirun)
    XCTAssertEqual(two.status, 0, two.stdout + two.stderr)
    XCTAssertTrue(two.stdout.contains("x 2 processes"), two.stdout)
    let initial = try CLI.run(["train", tiny] + common.map { $0 == "train_steps=10" ? "train_steps=0" : $0 } + ["-o", start.path])
    XCTAssertEqual(initial.status, 0, initial.stderr)

    // Relative L2 distance over all tensors of a file. Training must have moved the weights by far
    // more than the tolerance, or equality would say nothing.
    func relativeL2(_ a: [String: [Float]], _ b: [String: [Float]]) -> Double {
      var diff = 0.0, norm = 0.0
      for (name, x) in a {
        guard let y = b[name], y.count == x.count else { return .infinity }
        for (p, q) in zip(x, y) { diff += (Double(p) - Double(q)) * (Double(p) - Double(q)); norm += Double(p) * Double(p) }
      }
      return (diff / max(norm, .leastNormalMagnitude)).squareRoot()
    }
    let model = { (dir: URL, file: String) in try readSafetensors(dir.appendingPathComponent("latest/\(file).safetensors")) }
    let moved = relativeL2(try model(single, "model"), try model(start, "model"))
    XCTAssertGreaterThan(moved, 1e-3, "10 steps must move the weights")
    var worst = 0.0
    for file in ["model", "ema", "optimizer"] {
      let (a, b) = (try model(single, file), try model(pair, file))
      XCTAssertEqual(Set(a.keys), Set(b.keys), file)
      let d = relativeL2(a, b)
      worst = max(worst, d)
      XCTAssertLessThan(d, 1e-5, "\(file): relative L2 between 1 x 16 and 2 x 8 under mpirun")
    }
    let (l1, l2) = (try stepLosses(single), try stepLosses(pair))
    XCTAssertEqual(l1.count, 2)
    XCTAssertEqual(l1.count, l2.count)
    for (a, b) in zip(l1, l2) { XCTAssertEqual(a, b, accuracy: 1e-5, "logged losses differ") }

    // The summaries say what ran them.
    let p1 = try provenance(single), p2 = try provenance(pair)
    XCTAssertEqual(p1["processes"] as? Int, 1)
    XCTAssertEqual(p1["backend"] as? String, "none")
    XCTAssertEqual(p2["processes"] as? Int, 2)
    XCTAssertEqual(p2["backend"] as? String, "mpi")
    let lossDiff = zip(l1, l2).map { abs($0 - $1) }.max() ?? .nan
    print(String(format: "mpi equivalence: relative L2 |2x8 - 1x16| = %.2e (weights moved %.2e), max loss difference %.2e",
                 worst, moved, lossDiff))
  }

  func testKilledMPIJobResumesBitIdentically() throws {
    let mpirun = try mpirun()
    // Long enough that SIGTERM, sent at the first checkpoint, reaches the ranks before they finish.
    let args = ["--set", "train_steps=200", "--set", "save_and_sample_every=5", "--set", "num_samples=0", "--set", "log_every=10"]
    let straight = CLI.temporaryDirectory("mpi-straight"), killed = CLI.temporaryDirectory("mpi-killed")
    defer { [straight, killed].forEach { try? FileManager.default.removeItem(at: $0) } }
    let a = try CLI.run(mpiArguments(["train", tiny, "-o", straight.path] + args), deadline: 240, executable: mpirun)
    XCTAssertEqual(a.status, 0, a.stdout + a.stderr)

    // SIGTERM to mpirun, as scancel or a node's shutdown sends it: mpirun passes it to the ranks.
    let job = try CLI.start(mpiArguments(["train", tiny, "-o", killed.path] + args), executable: mpirun)
    let state = killed.appendingPathComponent("latest/state.json")
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: state.path), job.isRunning, Date() < deadline { usleep(2000) }
    let ranks = ProcessTree.children(of: job.processIdentifier)
    defer { for pid in ranks where ProcessTree.isAlive(pid) { kill(pid, SIGKILL) } }
    kill(job.processIdentifier, SIGTERM)
    let stopped = Date().addingTimeInterval(30)
    while job.isRunning, Date() < stopped { usleep(20_000) }
    if job.isRunning { kill(job.processIdentifier, SIGKILL) }
    job.waitUntilExit()
    let gone = Date().addingTimeInterval(20)
    while ranks.contains(where: ProcessTree.isAlive), Date() < gone { usleep(20_000) }
    XCTAssertFalse(ranks.contains(where: ProcessTree.isAlive), "mpirun's ranks outlived it")
    let stepAtKill = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any])
    XCTAssertLessThan(stepAtKill["step"] as? Int ?? 200, 200, "the job finished before it could be killed")

    let b = try CLI.run(mpiArguments(["train", tiny, "-o", killed.path, "--resume"] + args), deadline: 240, executable: mpirun)
    XCTAssertEqual(b.status, 0, b.stdout + b.stderr)
    XCTAssertTrue((b.stdout + b.stderr).contains("resuming"), b.stdout + b.stderr)
    for file in ["model.safetensors", "ema.safetensors", "optimizer.safetensors"] {
      let x = try Data(contentsOf: straight.appendingPathComponent("latest/\(file)"))
      let y = try Data(contentsOf: killed.appendingPathComponent("latest/\(file)"))
      XCTAssertEqual(x, y, "\(file) differs between the uninterrupted and the resumed MPI job")
    }
  }

  /// Under mpirun too, a rank that stops in the middle of training (a hung node) ends the job after
  /// --collective-timeout: the other rank leaves naming the wait and the rank, and mpirun aborts the rest.
  func testAStoppedRankEndsTheJobAfterTheCollectiveTimeout() throws {
    let mpirun = try mpirun()
    let run = CLI.temporaryDirectory("mpi-stall")
    defer { try? FileManager.default.removeItem(at: run) }
    let args = ["train", tiny, "-o", run.path, "--set", "train_steps=1000000", "--set", "batch_size=8", "--set", "num_samples=0",
                "--set", "log_every=1", "--collective-timeout", "3"]
    let started = Date()
    let job = try CLI.start(mpiArguments(args), executable: mpirun)
    let metrics = run.appendingPathComponent("metrics.jsonl")
    while job.isRunning, Date().timeIntervalSince(started) < 120,
          !((try? String(contentsOf: metrics, encoding: .utf8))?.contains("\"step\"") ?? false) { usleep(20_000) }
    let ranks = ProcessTree.descendants(of: job.processIdentifier, withVariable: "OMPI_COMM_WORLD_RANK")
    defer { for rank in ranks { kill(rank.pid, SIGKILL) } }
    let stopped = try XCTUnwrap(ranks.first { $0.value == "1" }, "rank 1 among \(ranks)")
    kill(stopped.pid, SIGSTOP)
    while job.isRunning, Date().timeIntervalSince(started) < 200 { usleep(50_000) }
    if job.isRunning { kill(job.processIdentifier, SIGKILL) }
    job.waitUntilExit()
    let stderr = String(decoding: (job.standardError as? Pipe)?.fileHandleForReading.availableData ?? Data(), as: UTF8.self)
    XCTAssertNotEqual(job.terminationStatus, 0)
    XCTAssertTrue(stderr.contains("process 0 of 2 waited 3 s in the gradient sum of step ") && stderr.contains("process 1 did not take part"), stderr)
    XCTAssertLessThan(Date().timeIntervalSince(started), 150, "ended by the collective timeout, not left to hang")
  }

  func testWithoutLibMPITheErrorSaysToInstallOpenMPI() throws {
    // MLX opens $MLX_MPI_LIBNAME (default libmpi.so) at run time; a name that resolves to nothing is
    // the machine without Open MPI.
    let dir = CLI.temporaryDirectory("mpi-missing")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try CLI.run(["train", tiny, "-o", dir.path, "--distributed", "--backend", "mpi"],
                        environment: ["MLX_MPI_LIBNAME": "libmpi-not-installed.so"], deadline: 60)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("Open MPI is not installed") && r.stderr.contains("apt-get install openmpi-bin libopenmpi-dev"), r.stderr)
    XCTAssertFalse(r.stderr.contains("this build of libmlx"), r.stderr)
  }

  private func stepLosses(_ dir: URL) throws -> [Double] {
    try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
      .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
      .filter { $0["event"] as? String == "step" }.compactMap { $0["loss"] as? Double }
  }

  private func provenance(_ dir: URL) throws -> [String: Any] {
    let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("summary.json"))) as? [String: Any]
    return try XCTUnwrap(summary?["provenance"] as? [String: Any], "summary.json records its provenance")
  }
}
