// Joining a data-parallel job from the CLI (`maskdm train --distributed`, `maskdm study run
// --distributed`): pick MLX's backend from what the launcher put in the environment, or explain how
// to launch when nothing did; and leave the job when the launcher that started this process is gone.
import ArgumentParser
import Engine
import Foundation

extension DistributedBackend: ExpressibleByArgument {}

/// Options of every command that can run as one rank of a data-parallel job.
struct DistributedOptions: ParsableArguments {
  @Flag(help: "Run as one process of a data-parallel job (started by `maskdm launch`, mpirun, srun, or with MLX's environment variables).")
  var distributed = false
  @Option(help: "MLX's communication backend: ring (TCP), mpi, nccl (CUDA), or any (chosen from the environment).")
  var backend: DistributedBackend = .any

  /// The job's group when --distributed is given, else nil.
  func join() throws -> DistributedGroup? {
    guard distributed else { return nil }
    let env = ProcessInfo.processInfo.environment
    var chosen = backend
    if chosen == .any {
      if env["MLX_HOSTFILE"] != nil { chosen = .ring }
      else if env["NCCL_HOST_IP"] != nil { chosen = .nccl }
      else if ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains(where: { env[$0] != nil }) { chosen = .mpi }
      else { throw ValidationError(Self.howToLaunch) }
    }
    let missing: [String]
    switch chosen {
    case .ring: missing = ["MLX_RANK", "MLX_HOSTFILE"].filter { env[$0] == nil }
    case .nccl: missing = ["MLX_RANK", "MLX_WORLD_SIZE", "NCCL_HOST_IP", "NCCL_PORT"].filter { env[$0] == nil }
    case .mpi, .any: missing = []
    }
    guard missing.isEmpty else {
      throw ValidationError("--distributed with the \(chosen.rawValue) backend needs \(missing.joined(separator: ", ")) in the environment.\n" + Self.howToLaunch)
    }
    LauncherWatchdog.start()
    // MLX's ring cannot form a ring of one: a hostfile with a single rank is a job of this process alone.
    if chosen == .ring, let data = FileManager.default.contents(atPath: env["MLX_HOSTFILE"]!),
       let hosts = try? JSONSerialization.jsonObject(with: data) as? [Any], hosts.count == 1 {
      return DistributedGroup.single()
    }
    return try DistributedGroup.initialize(backend: chosen)
  }

  static let howToLaunch = """
    --distributed needs a launcher that starts one process per device and describes the job in the environment:
      maskdm launch -n 2 -- maskdm train CONFIG -o RUN --distributed        (this machine, ring backend over loopback)
      mpirun -np 8 maskdm train CONFIG -o RUN --distributed --backend mpi   (MPI, also under Slurm: srun --mpi=pmix)
      MLX_RANK, MLX_HOSTFILE (ring) or MLX_RANK, MLX_WORLD_SIZE, NCCL_HOST_IP, NCCL_PORT (NCCL) set per process
    See "Multi-device and multi-node training" in README.md.
    """
}

/// Ends this process when the `maskdm launch` that started it has died (even by SIGKILL), so no
/// rank is left waiting on a collective forever.
enum LauncherWatchdog {
  static func start() {
    guard let text = ProcessInfo.processInfo.environment["MASKDM_LAUNCHER_PID"], let launcher = Int32(text) else { return }
    let thread = Thread {
      while true {
        if getppid() != launcher {
          FileHandle.standardError.write(Data("maskdm: the launcher (pid \(launcher)) is gone; leaving the distributed job\n".utf8))
          // _exit, not exit: exit runs static destructors (MLX's thread pools, the ring's sockets)
          // while the training thread may still be inside them, which can block; that is the likely
          // reason a rank once outlived its launcher by 20 s under load (not reproduced alone).
          // Nothing is lost: checkpoints and metrics are written atomically as they go.
          _exit(75)
        }
        Thread.sleep(forTimeInterval: 0.5)
      }
    }
    thread.name = "maskdm.watchdog"
    thread.start()
  }
}
