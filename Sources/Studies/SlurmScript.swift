// `--emit-slurm`: a Slurm array job that runs one variant per task. Tasks that share a stage (the
// pre-training most variants start from) wait for whichever task trains it first, through the run
// directory's lock, and then reuse it; any task rewrites the report with what has finished.
import Foundation

/// The array-job script for `experiment`.
public func slurmArrayScript(experiment: Experiment, planPath: String, preset: String, studyDirectory: String,
                             executable: String = "maskdm") -> String {
  let names = experiment.variants.map { "  " + shellQuote($0.slug) }.joined(separator: "\n")
  let gpu = preset == "paper"
  return """
    #!/bin/bash
    # \(experiment.plan.title): \(experiment.variants.count) variants, one per array task.
    # Submit with: sbatch \(studyDirectory)/slurm.sh   (adjust the #SBATCH lines to your cluster)
    #SBATCH --job-name=maskdm-\(slugify(experiment.plan.name))
    #SBATCH --array=0-\(max(experiment.variants.count - 1, 0))
    #SBATCH --output=\(studyDirectory)/slurm-%A_%a.out
    #SBATCH --cpus-per-task=\(gpu ? 8 : 2)
    \(gpu ? "#SBATCH --gres=gpu:1\n#SBATCH --time=3-00:00:00" : "#SBATCH --time=02:00:00")
    set -euo pipefail
    variants=(
    \(names)
    )
    exec \(shellQuote(executable)) study run \(shellQuote(planPath)) --preset \(shellQuote(preset)) \\
      --out \(shellQuote(studyDirectory)) --only "${variants[$SLURM_ARRAY_TASK_ID]}"

    """
}

func shellQuote(_ s: String) -> String {
  s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
