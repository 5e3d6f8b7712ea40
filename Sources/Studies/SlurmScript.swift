// `--emit-slurm`: a study as a graph of Slurm jobs. A stage that several variants share (the
// pre-training most variants start from) is its own job; each variant and seed is a job that starts
// when the shared stages it needs have finished (`--dependency=afterok`), so no job holds a GPU while
// it waits; a last job writes the report once every variant has ended, however it ended.
import Foundation

/// Cluster settings of the emitted jobs.
public struct SlurmOptions: Sendable {
  /// `--partition`, `--time` (for the training jobs) and `--account`; nil leaves them to the cluster
  /// (the time limit then defaults to the preset's).
  public var partition: String?
  public var timeLimit: String?
  public var account: String?
  /// Training jobs request one GPU, pass `--device gpu` and put the CUDA build of MLX on the library path.
  public var gpu: Bool
  /// The Python environment that holds the CUDA build of MLX (README: On an NVIDIA GPU).
  public var cudaEnvironment: String

  public init(partition: String? = nil, timeLimit: String? = nil, account: String? = nil, gpu: Bool, cudaEnvironment: String) {
    self.partition = partition
    self.timeLimit = timeLimit
    self.account = account
    self.gpu = gpu
    self.cudaEnvironment = cudaEnvironment
  }

  /// Refuses values that cannot stand in an `#SBATCH` line or a script as they are: a partition or
  /// account other than letters, digits and `_ . , -`, a time limit other than Slurm's digits, `-` and
  /// `:`, and a control character (a newline would start a shell line) in the CUDA environment's path.
  public func validate() throws {
    func check(_ value: String?, _ flag: String, _ allowed: String, _ example: String) throws {
      guard let value else { return }
      guard !value.isEmpty, value.count <= 200, value.unicodeScalars.allSatisfy({ allowed.unicodeScalars.contains($0) }) else {
        throw PlanError("\(flag) \(value.debugDescription) is not a Slurm \(flag.dropFirst(2)) (\(example)); refused: it is written into #SBATCH lines")
      }
    }
    let name = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,-"
    try check(partition, "--partition", name, "letters, digits, _ . , -")
    try check(account, "--account", name, "letters, digits, _ . , -")
    try check(timeLimit, "--time", "0123456789-:", "e.g. 1-12:00:00")
    try checkScriptPath(cudaEnvironment, "--cuda-env")
  }
}

/// Refuses a path that a script cannot hold on one line (a control character) or that an `#SBATCH`
/// line cannot quote (a `"` or `\`).
func checkScriptPath(_ path: String, _ what: String) throws {
  if path.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) || $0 == "\"" || $0 == "\\" }) {
    throw PlanError("\(what) \(path.debugDescription) holds a control character, a quote or a backslash; the Slurm scripts "
                      + "cannot hold it on one line: use a path without them")
  }
}

/// One job of a study's graph.
public struct SlurmJob: Equatable, Sendable {
  public enum Kind: String, Sendable { case stage, variant, report }
  /// The job's name: its script is `slurm/<name>.sh`.
  public var name: String
  public var kind: Kind
  /// What it runs: `maskdm` followed by these.
  public var arguments: [String]
  /// The jobs it waits for: `afterok` for training jobs, `afterany` for the report.
  public var dependencies: [String]
  /// What it does, for the script's comment and the listing.
  public var about: String
}

/// The jobs of one study, in an order that submits every job after the jobs it depends on.
public struct SlurmGraph: Sendable {
  public let jobs: [SlurmJob]
  public let options: SlurmOptions
  public let title: String
  public let planName: String
  public let studyDirectory: String
  public let executable: String

  /// The graph of `experiment`; refuses options and paths the scripts cannot hold (`SlurmOptions.validate`).
  public init(experiment: Experiment, repeats: Int, planPath: String, studyDirectory: String, executable: String,
              options: SlurmOptions) throws {
    try options.validate()
    try checkScriptPath(studyDirectory, "the study directory")
    try checkScriptPath(planPath, "the plan's path")
    try checkScriptPath(executable, "the maskdm executable's path")
    let seeds = max(1, repeats)
    let study = ["--preset", experiment.plan.preset, "--out", studyDirectory]
    let device = options.gpu ? ["--device", "gpu"] : []
    var jobs: [SlurmJob] = []
    var stageJob: [String: String] = [:]  // stage id -> job name
    var variantJobs: [String] = []
    for index in 0..<seeds {
      let variants = experiment.variants.map { experiment.seeded($0, repeat: index) }
      var uses: [String: Int] = [:]
      for v in variants { for s in v.stages { uses[s.id, default: 0] += 1 } }
      for v in variants {
        // Shared stages come before their children in a variant's list, so parents are submitted first.
        for s in v.stages where (uses[s.id] ?? 0) > 1 && stageJob[s.id] == nil {
          let name = slugify("stage-\(s.directoryName)")
          stageJob[s.id] = name
          jobs.append(SlurmJob(
            name: name, kind: .stage, arguments: ["study", "run", planPath] + study + ["--stage", s.directoryName] + device,
            dependencies: s.parent.flatMap { stageJob[$0] }.map { [$0] } ?? [],
            about: "trains \(s.name) (runs/\(s.directoryName)), shared by \(uses[s.id]!) variants, seed \(s.config.seed)"))
        }
        let name = slugify("\(v.slug)-seed\(v.seed)")
        variantJobs.append(name)
        var needs: [String] = []
        for s in v.stages { if let j = stageJob[s.id], !needs.contains(j) { needs.append(j) } }
        jobs.append(SlurmJob(
          name: name, kind: .variant,
          arguments: ["study", "run", planPath] + study + ["--only", v.slug, "--repeats", "\(seeds)", "--seed-index", "\(index)"] + device,
          dependencies: needs, about: "\(v.name), seed \(v.seed): trains its own stages and evaluates"))
      }
    }
    jobs.append(SlurmJob(name: "report", kind: .report, arguments: ["study", "report", planPath] + study + ["--repeats", "\(seeds)"],
                         dependencies: variantJobs, about: "writes the report from every variant's result"))
    self.jobs = jobs
    self.options = options
    self.title = experiment.plan.title
    self.planName = experiment.plan.name
    self.studyDirectory = studyDirectory
    self.executable = executable
  }

  /// The submitting script, `slurm.sh`: one `sbatch` per job, each with the ids of the jobs it waits for.
  public var submitScript: String {
    var lines = [
      "#!/bin/bash",
      "# \(shellCommentText(title)): \(jobs.count) Slurm jobs (shared stages: \(count(.stage)), variant runs: \(count(.variant)), then the report).",
      "# Submit with: bash \(shellWord(studyDirectory + "/slurm.sh"))   (the job scripts, with their #SBATCH lines, are in slurm/)",
      "set -euo pipefail",
      "jobs=\(shellWord(studyDirectory + "/slurm"))",
      "declare -A id",
      "submit() { local out; out=$(sbatch --parsable \"$@\") || exit 1; echo \"${out%%;*}\"; }",
    ]
    for job in jobs {
      var flags = ""
      if !job.dependencies.isEmpty {
        let ids = job.dependencies.map { "${id[\($0)]}" }.joined(separator: ":")
        // A training job whose stage failed can never start: cancel it, and the report still runs.
        flags = job.kind == .report ? "--dependency=afterany:\(ids) " : "--dependency=afterok:\(ids) --kill-on-invalid-dep=yes "
      }
      lines.append("id[\(job.name)]=$(submit \(flags)\"$jobs/\(job.name).sh\")")
    }
    lines.append("echo \"submitted \(jobs.count) jobs; the report job is ${id[report]} (output in $jobs)\"")
    return lines.joined(separator: "\n") + "\n"
  }

  /// The script of one job, `slurm/<name>.sh`.
  public func script(_ job: SlurmJob) -> String {
    let gpu = options.gpu && job.kind != .report
    // #SBATCH lines are read by sbatch, not by bash: each value is a checked word (names are slugs,
    // options validated) or a path in double quotes that holds no quote, backslash or newline.
    var header = ["#SBATCH --job-name=maskdm-\(slugify(planName))-\(job.name)",
                  "#SBATCH --output=\"\(studyDirectory)/slurm/\(job.name)-%j.out\"",
                  "#SBATCH --cpus-per-task=\(job.kind == .report ? 1 : gpu ? 8 : 2)"]
    if gpu { header.append("#SBATCH --gres=gpu:1") }
    let time = job.kind == .report ? "01:00:00" : options.timeLimit ?? (options.gpu ? "3-00:00:00" : "02:00:00")
    header.append("#SBATCH --time=\(time)")
    if let p = options.partition { header.append("#SBATCH --partition=\(p)") }
    if let a = options.account { header.append("#SBATCH --account=\(a)") }
    var body = ["set -euo pipefail"]
    if gpu {
      body += [
        "# The CUDA build of MLX, found before the CPU build the binary would load by itself.",
        "cuda_env=\(shellWord(options.cudaEnvironment))",
        "site=$(echo \"$cuda_env\"/lib/python3*/site-packages)",
        "if [[ ! -d $site/mlx/lib ]]; then",
        "  echo \"the CUDA build of MLX is not in $cuda_env (README: On an NVIDIA GPU; or --cuda-env DIR)\" >&2; exit 1",
        "fi",
        "export LD_LIBRARY_PATH=\"$site/mlx/lib:$site/mlx_cuda_13.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\"",
      ]
    }
    body.append("exec " + ([executable] + job.arguments).map(shellWord).joined(separator: " "))
    return (["#!/bin/bash", "# \(shellCommentText(title)): \(shellCommentText(job.about))."] + header + body).joined(separator: "\n") + "\n"
  }

  /// The graph, one line per job with what it waits for.
  public var listing: String {
    let width = (jobs.map { $0.name.count }.max() ?? 10) + 2
    return jobs.map { job in
      let pad = String(repeating: " ", count: max(0, width - job.name.count))
      let device = job.kind != .report && options.gpu ? "gpu" : "cpu"
      let after = job.dependencies.isEmpty ? "" : "  after\(job.kind == .report ? "any" : "ok"): " + job.dependencies.joined(separator: ", ")
      return "  \(job.name)\(pad)\(device)  \(job.about)\(after)"
    }.joined(separator: "\n") + "\n"
  }

  private func count(_ kind: SlurmJob.Kind) -> Int { jobs.filter { $0.kind == kind }.count }
}
