// `maskdm study run PLAN --emit-slurm`: the cluster options of the emitted graph and the writing of
// DIR/slurm.sh (the submitter) and DIR/slurm/<job>.sh (one script per job).
import ArgumentParser
import Foundation
import Studies

struct SlurmFlags: ParsableArguments {
  @Option(help: "With --emit-slurm: the Slurm partition of every job.") var partition: String?
  @Option(help: "With --emit-slurm: the time limit of each training job (Slurm's format, e.g. 1-12:00:00; default 3 days on paper, 2 h on quick).")
  var time: String?
  @Option(help: "With --emit-slurm: the Slurm account to charge.") var account: String?
  @Option(help: "With --emit-slurm on a GPU preset: the Python environment holding the CUDA build of MLX (default: .deps/cuda of this checkout).")
  var cudaEnv: String?

  /// Writes the graph's scripts for `experiment` into `directory` and prints the jobs.
  func emit(_ experiment: Experiment, repeats: Int, planPath: String, directory dir: URL) throws {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    // A binary built by SwiftPM sits in <checkout>/.build/<configuration>/; the README puts the
    // CUDA build of MLX in <checkout>/.deps/cuda.
    let checkout = executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let options = SlurmOptions(partition: partition, timeLimit: time, account: account, gpu: experiment.plan.preset == "paper",
                               cudaEnvironment: cudaEnv.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
                                 ?? checkout.appendingPathComponent(".deps/cuda").path)
    let study = dir.standardizedFileURL
    let graph = try SlurmGraph(experiment: experiment, repeats: repeats, planPath: URL(fileURLWithPath: planPath).standardizedFileURL.path,
                           studyDirectory: study.path, executable: executable.path, options: options)
    let jobs = study.appendingPathComponent("slurm")
    try FileManager.default.createDirectory(at: jobs, withIntermediateDirectories: true)
    for job in graph.jobs {
      let url = jobs.appendingPathComponent("\(job.name).sh")
      try graph.script(job).write(to: url, atomically: true, encoding: .utf8)
      chmod(url.path, 0o755)
    }
    let submit = study.appendingPathComponent("slurm.sh")
    try graph.submitScript.write(to: submit, atomically: true, encoding: .utf8)
    chmod(submit.path, 0o755)
    print("wrote \(submit.path) and \(graph.jobs.count) job scripts in \(jobs.path)/; submit with bash \(submit.path)")
    print(graph.listing, terminator: "")
  }
}
