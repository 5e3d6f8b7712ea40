// `maskdm launch -n N [--timeout S] -- COMMAND ARGS…`: starts N local processes of a data-parallel
// job on MLX's ring backend over loopback. Each gets MLX_RANK and MLX_HOSTFILE (a JSON list with
// one ["127.0.0.1:port"] entry per rank, ports free at launch time). When one process fails, or the
// timeout passes, or the launcher is interrupted, the others are stopped: no rank is left behind.
import ArgumentParser
import Foundation
import Training

struct LaunchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "launch",
    abstract: "Start N local processes of a data-parallel job (MLX ring backend over loopback).",
    discussion: """
      Example: maskdm launch -n 2 -- maskdm train configs/tiny.yaml -o runs/dp --distributed
      A COMMAND of `maskdm` runs this very binary. On a cluster use mpirun, srun or per-process
      environment variables instead (README.md, "Multi-device and multi-node training").
      """)

  @Option(name: .short, help: "Number of processes.") var n: Int
  @Option(help: "Stop every process after this many seconds (exit status 124).") var timeout: Double?
  @Argument(parsing: .captureForPassthrough, help: "The command each process runs (after --).") var command: [String]

  func validate() throws {
    guard n >= 1 else { throw ValidationError("-n must be at least 1 (got \(n))") }
    if command.first == "--" { return }
    guard !command.isEmpty else { throw ValidationError("give the command to launch after --, e.g. -- maskdm train CONFIG -o RUN --distributed") }
  }

  func run() throws {
    let args = command.first == "--" ? Array(command.dropFirst()) : command
    guard let program = args.first else {
      throw ValidationError("give the command to launch after --, e.g. -- maskdm train CONFIG -o RUN --distributed")
    }
    let executable = try resolveExecutable(program)
    let ports = try freeLoopbackPorts(n)
    // In a private folder with an unguessable name: a fixed name in /tmp could be a link planted by
    // another user, which writing would follow.
    let folder = try makePrivateDirectory(prefix: "maskdm-launch")
    let hostfile = folder.appendingPathComponent("hostfile.json")
    let entries = ports.map { "[\"127.0.0.1:\($0)\"]" }.joined(separator: ", ")
    try writePrivateFile(Data("[\(entries)]\n".utf8), to: hostfile)
    defer { try? FileManager.default.removeItem(at: folder) }

    let job = LocalJob()
    var environment = ProcessInfo.processInfo.environment
    environment["MLX_HOSTFILE"] = hostfile.path
    environment["MASKDM_LAUNCHER_PID"] = String(getpid())
    // N processes share this machine's cores: without a limit each would start a thread per core
    // (OpenBLAS and our kernels) and they would fight (measured: 7x slower for 2 on 2 cores).
    let share = String(max(1, ProcessInfo.processInfo.activeProcessorCount / n))
    for key in ["OPENBLAS_NUM_THREADS", "MASKDM_THREADS"] where environment[key] == nil { environment[key] = share }
    for rank in 0..<n {
      let process = Process()
      process.executableURL = executable
      process.arguments = Array(args.dropFirst())
      environment["MLX_RANK"] = String(rank)
      process.environment = environment
      try job.start(process)
    }
    job.stopOnSignals { try? FileManager.default.removeItem(at: folder) }
    let status = job.wait(timeout: timeout)
    if status != 0 { throw ExitCode(status) }
  }

  /// `maskdm` means this binary; a path is taken as is; anything else is looked up on PATH.
  private func resolveExecutable(_ name: String) throws -> URL {
    if name == "maskdm" { return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }
    if name.contains("/") { return URL(fileURLWithPath: name) }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw ValidationError("cannot find \(name) on PATH")
  }
}

/// `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (bound to port 0, then released).
func freeLoopbackPorts(_ count: Int) throws -> [Int] {
  var sockets: [Int32] = []
  defer { sockets.forEach { close($0) } }
  var ports: [Int] = []
  for _ in 0..<count {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ValidationError("cannot open a socket to find a free port") }
    sockets.append(fd)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw ValidationError("cannot bind a loopback port") }
    ports.append(Int(UInt16(bigEndian: address.sin_port)))
  }
  return ports
}

/// The processes of one local job: waited for together, stopped together.
final class LocalJob: @unchecked Sendable {
  private var processes: [Process] = []
  private let lock = NSLock()
  private var signalSources: [DispatchSourceSignal] = []

  func start(_ process: Process) throws {
    try process.run()
    lock.withLock { processes.append(process) }
  }

  /// On SIGINT or SIGTERM: stop every process, run `cleanup`, then exit 130/143.
  func stopOnSignals(cleanup: @escaping () -> Void) {
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler { [self] in
        stopAll()
        cleanup()
        exit(128 + sig)
      }
      source.resume()
      signalSources.append(source)
    }
  }

  /// Waits until all processes end (status 0), one fails (its status; the rest are stopped), or the
  /// timeout passes (124; all are stopped).
  func wait(timeout: Double?) -> Int32 {
    let deadline = timeout.map { Date().addingTimeInterval($0) }
    while true {
      let all = lock.withLock { processes }
      if let failed = all.first(where: { !$0.isRunning && $0.terminationStatus != 0 }) {
        let status = failed.terminationReason == .uncaughtSignal ? 128 + failed.terminationStatus : failed.terminationStatus
        FileHandle.standardError.write(Data("maskdm launch: a process exited with status \(status); stopping the others\n".utf8))
        stopAll()
        return status
      }
      if all.allSatisfy({ !$0.isRunning }) { return 0 }
      if let deadline, Date() > deadline {
        FileHandle.standardError.write(Data("maskdm launch: timed out; stopping every process\n".utf8))
        stopAll()
        return 124
      }
      usleep(50_000)
    }
  }

  /// SIGTERM to each running process, SIGKILL after 5 seconds, and waits for them.
  func stopAll() {
    let all = lock.withLock { processes }
    for p in all where p.isRunning { kill(p.processIdentifier, SIGTERM) }
    let deadline = Date().addingTimeInterval(5)
    while all.contains(where: { $0.isRunning }), Date() < deadline { usleep(20_000) }
    for p in all where p.isRunning { kill(p.processIdentifier, SIGKILL) }
    for p in all { p.waitUntilExit() }
  }
}
