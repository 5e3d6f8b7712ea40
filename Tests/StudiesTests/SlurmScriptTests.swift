// The Slurm scripts of a study hold every value as one shell word (`shellWord`), #SBATCH lines only
// checked values, and a newline nowhere it could start a line: checked by running the scripts against
// a stand-in `sbatch` that records what it was given.
import Foundation
import XCTest
@testable import Studies

final class SlurmScriptTests: XCTestCase {
  static let plan = """
    compare: steps
    \(TinyPlan.base(seed: 10))
    stages:
      - {name: pretrain, steps: 5, set: {dataset.MASK_RATIO: 0.75}}
      - {name: finetune, init_from: pretrain, steps: 5}
    evaluation: {samples: 8}
    ablations:
      - {name: "It's $(touch pwned-ablation) `touch pwned-tick`", part: position embedding, action: REMOVE}
    """

  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-script-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  @discardableResult
  func bash(_ script: URL, in dir: URL, path: String) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = [script.path]
    p.currentDirectoryURL = dir
    p.environment = ["PATH": path, "HOME": dir.path]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  func testScriptsRunEveryValueAsOneWordUnderAStandInSbatch() throws {
    let root = try temporaryDirectory()
    let study = root.appendingPathComponent("my study $(touch pwned-dir)")  // a space, and a substitution
    let jobs = study.appendingPathComponent("slurm")
    try FileManager.default.createDirectory(at: jobs, withIntermediateDirectories: true)
    let record = root.appendingPathComponent("record")
    try FileManager.default.createDirectory(at: record, withIntermediateDirectories: true)
    let bin = root.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    // The stand-in: records each call's words (one per line) and the script it was given; prints an id.
    let sbatch = bin.appendingPathComponent("sbatch")
    try """
      #!/bin/bash
      n=$(ls \(shellWord(record.path)) | wc -l)
      for a in "$@"; do printf '%s\\n' "$a"; done > \(shellWord(record.path))/call-$n.args
      for a in "$@"; do [[ $a == *.sh ]] && cp "$a" \(shellWord(record.path))/call-$n.script; done
      echo "$((1000 + n))"
      """.write(to: sbatch, atomically: true, encoding: .utf8)
    chmod(sbatch.path, 0o755)

    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan, name: "slurm"))
    let cuda = root.appendingPathComponent("env $(touch pwned-cuda) \"q\"").path.replacingOccurrences(of: "\"", with: "")
    let options = SlurmOptions(partition: "gpu_a100", timeLimit: "1-00:00:00", account: "proj-1", gpu: true, cudaEnvironment: cuda)
    let graph = try SlurmGraph(experiment: e, repeats: 1, planPath: root.appendingPathComponent("plan $(touch pwned-plan).yaml").path,
                               studyDirectory: study.path, executable: "/opt/maskdm/bin/maskdm", options: options)
    for job in graph.jobs { try graph.script(job).write(to: jobs.appendingPathComponent("\(job.name).sh"), atomically: true, encoding: .utf8) }
    let submit = study.appendingPathComponent("slurm.sh")
    try graph.submitScript.write(to: submit, atomically: true, encoding: .utf8)

    let run = try bash(submit, in: root, path: bin.path + ":/usr/bin:/bin")
    XCTAssertEqual(run.status, 0, run.output)
    let calls = try FileManager.default.contentsOfDirectory(atPath: record.path).filter { $0.hasSuffix(".args") }
    XCTAssertEqual(calls.count, graph.jobs.count, "one sbatch per job")
    for call in calls {
      let words = try String(contentsOf: record.appendingPathComponent(call), encoding: .utf8).split(separator: "\n")
      XCTAssertTrue(words.last?.hasPrefix(jobs.path + "/") == true, "the job script is one word, spaces and all: \(words)")
    }
    // Every job script: the #SBATCH block is unbroken and whole; the GPU job's CUDA check runs and
    // fails (there is no CUDA build here) without running what the values hold.
    for job in graph.jobs {
      let text = try String(contentsOf: jobs.appendingPathComponent("\(job.name).sh"), encoding: .utf8)
      let lines = text.split(separator: "\n")
      XCTAssertTrue(lines[1].hasPrefix("# "))
      let block = lines.dropFirst(2).prefix { $0.hasPrefix("#SBATCH ") }
      XCTAssertEqual(lines[2 + block.count], "set -euo pipefail", "nothing ends the #SBATCH block early:\n\(text)")
      let directives = block.map { $0.dropFirst(8).split(separator: "=")[0] }
      for d in ["--job-name", "--output", "--cpus-per-task", "--time", "--partition", "--account"] {
        XCTAssertTrue(directives.contains(Substring(d)), "\(d) missing in \(job.name):\n\(text)")
      }
      XCTAssertTrue(block.contains { $0 == "#SBATCH --output=\"\(study.path)/slurm/\(job.name)-%j.out\"" }, "the output path is quoted:\n\(text)")
      if job.kind != .report { XCTAssertTrue(directives.contains("--gres")) }
      let result = try bash(jobs.appendingPathComponent("\(job.name).sh"), in: root, path: bin.path + ":/usr/bin:/bin")
      if job.kind != .report {
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("the CUDA build of MLX is not in \(cuda)"), result.output)
      }
    }
    let made = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix("pwned") }
      + (try FileManager.default.contentsOfDirectory(atPath: study.path)).filter { $0.hasPrefix("pwned") }
    XCTAssertEqual(made, [], "a value ran as a command")
  }

  func testValuesThatCannotBeOneLineAreRefused() throws {
    let e = try Experiment(plan: try StudyPlan(yaml: Self.plan, name: "slurm"))
    func graph(_ o: SlurmOptions, study: String = "/tmp/s") throws -> SlurmGraph {
      try SlurmGraph(experiment: e, repeats: 1, planPath: "/tmp/p.yaml", studyDirectory: study, executable: "/bin/maskdm", options: o)
    }
    XCTAssertThrowsError(try graph(SlurmOptions(partition: "gpu\nrm -rf ~", gpu: false, cudaEnvironment: "/x"))) {
      XCTAssertTrue("\($0)".contains("--partition"), "\($0)")
    }
    XCTAssertThrowsError(try graph(SlurmOptions(timeLimit: "1:00 --wrap=x", gpu: false, cudaEnvironment: "/x")))
    XCTAssertThrowsError(try graph(SlurmOptions(account: "a b", gpu: false, cudaEnvironment: "/x")))
    XCTAssertThrowsError(try graph(SlurmOptions(gpu: true, cudaEnvironment: "/x\ntouch y")))
    XCTAssertThrowsError(try graph(SlurmOptions(gpu: false, cudaEnvironment: "/x"), study: "/tmp/a\"b"))
    XCTAssertNoThrow(try graph(SlurmOptions(partition: "gpu", timeLimit: "02:00:00", gpu: false, cudaEnvironment: "/x")))
    // A newline in a title would end the comment and then the #SBATCH block: refused where the plan loads.
    XCTAssertThrowsError(try StudyPlan(yaml: "title: \"A\\n#SBATCH --time=1\"\n" + Self.plan, name: "t")) {
      XCTAssertTrue("\($0)".contains("title") && "\($0)".contains("control character"), "\($0)")
    }
    XCTAssertEqual(shellWord("it's"), "'it'\\''s'")
  }
}
