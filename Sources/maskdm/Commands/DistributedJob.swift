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
  @Option(help: "Seconds to wait for every process of the job to join; then this one leaves, naming the processes that did not.")
  var joinTimeout: Double = 300
  @Option(help: "Seconds any wait for the other processes (a gradient sum, a check) may last before this one leaves, naming the wait and the processes that did not arrive; 0: no limit.")
  var collectiveTimeout: Double = 600

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
    guard joinTimeout > 0, joinTimeout.isFinite else { throw ValidationError("--join-timeout must be a positive number of seconds") }
    guard collectiveTimeout >= 0, collectiveTimeout.isFinite else {
      throw ValidationError("--collective-timeout must be a number of seconds, 0 or more (0: no limit)")
    }
    let joined = JoinWatchdog.start(seconds: joinTimeout, rank: env["MLX_RANK"] ?? env["OMPI_COMM_WORLD_RANK"] ?? env["PMI_RANK"],
                                    hostfile: chosen == .ring ? env["MLX_HOSTFILE"] : nil)
    defer { joined() }
    let group = try DistributedGroup.initialize(backend: chosen)
    group.collectiveTimeout = collectiveTimeout
    return group
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

/// Ends this process when the job has not formed within its join timeout (a process that never
/// started, or could not listen on its port, would leave the others waiting forever under mpirun or
/// srun), naming the processes that are missing: with the ring backend, each address of the hostfile
/// that accepts no connection.
enum JoinWatchdog {
  /// Starts the clock; the returned function stops it (call it once the group has formed).
  static func start(seconds: Double, rank: String?, hostfile: String?) -> () -> Void {
    let lock = NSLock()
    var done = false
    let thread = Thread {
      let deadline = Date().addingTimeInterval(seconds)
      while Date() < deadline {
        Thread.sleep(forTimeInterval: 0.2)
        lock.lock(); let finished = done; lock.unlock()
        if finished { return }
      }
      let me = rank.map { "process \($0)" } ?? "this process"
      var message = "maskdm: \(me) waited \(String(format: "%g", seconds)) s for the other processes of the distributed job to join"
      if let hostfile, let missing = missingRanks(hostfile: hostfile, except: rank.flatMap(Int.init)) {
        message += missing.isEmpty ? "; every address of \(hostfile) accepts connections, so the ring is still forming (a longer --join-timeout?)"
          : "; not listening: " + missing.joined(separator: ", ") + " (did it start? is its port free?)"
      } else {
        message += "; check the other processes' output (--join-timeout sets the wait)"
      }
      FileHandle.standardError.write(Data((message + "; leaving\n").utf8))
      _exit(75)
    }
    thread.name = "maskdm.join-watchdog"
    thread.start()
    return {
      lock.lock(); done = true; lock.unlock()
    }
  }

  /// "process 1 (127.0.0.1:40123)" for each rank of the hostfile whose first address refuses a TCP
  /// connection; nil when the hostfile cannot be read.
  static func missingRanks(hostfile: String, except mine: Int?) -> [String]? {
    guard let data = FileManager.default.contents(atPath: hostfile),
          let hosts = try? JSONSerialization.jsonObject(with: data) as? [[String]] else { return nil }
    return hosts.enumerated().compactMap { rank, addresses in
      guard rank != mine, let address = addresses.first else { return nil }
      return accepts(address) ? nil : "process \(rank) (\(address))"
    }
  }

  /// Whether `host:port` (IPv4) accepts a TCP connection within a second.
  static func accepts(_ address: String) -> Bool {
    let parts = address.split(separator: ":")
    guard parts.count == 2, let port = UInt16(parts[1]) else { return false }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    guard inet_pton(AF_INET, String(parts[0]), &addr.sin_addr) == 1 else { return false }
    return withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
  }
}
