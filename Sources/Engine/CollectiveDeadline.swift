// A deadline on every wait for the other processes of a data-parallel job. MLX's collectives block
// until every rank has contributed: a rank that hangs, is stopped, or dies without its launcher
// noticing (a node lost under mpirun or srun) would leave the others waiting forever. Each wait runs
// under `DistributedGroup.waiting(in:)`; a watchdog thread ends the process when one lasts longer than
// `collectiveTimeout`, naming the wait and the processes that did not arrive. Nothing is lost by
// leaving: checkpoints and metrics are written atomically as they go, and the launcher (or mpirun's
// abort on a failed rank, or `srun --kill-on-bad-exit`) stops the rest of the job.
import Foundation

/// The wait in progress, shared by the waiting thread and the watchdog thread. A wait only records its
/// name and start (it runs once per training step); the watchdog thread starts with the first one.
final class CollectiveDeadline: @unchecked Sendable {
  private let lock = NSLock()
  private let rank: Int, size: Int
  private var current: (what: String, since: Date)?
  private var limit: Double
  private var started = false

  init(rank: Int, size: Int, limit: Double) {
    (self.rank, self.size, self.limit) = (rank, size, limit)
  }

  /// Seconds a wait may last (0: no limit).
  var seconds: Double {
    get { lock.lock(); defer { lock.unlock() }; return limit }
    set { lock.lock(); limit = newValue; lock.unlock() }
  }

  /// Marks the start of a wait named `what`, starting the watchdog the first time.
  func begin(_ what: String) {
    lock.lock()
    defer { lock.unlock() }
    current = (what, Date())
    if !started {
      started = true
      startWatchdog()
    }
  }

  /// Marks the end of the wait in progress.
  func end() {
    lock.lock()
    current = nil
    lock.unlock()
  }

  /// The wait in progress past the limit, with the limit; nil while there is none.
  private func overdue() -> (what: String, limit: Double)? {
    lock.lock()
    defer { lock.unlock() }
    guard limit > 0, let current, Date().timeIntervalSince(current.since) > limit else { return nil }
    return (current.what, limit)
  }

  /// Every half second, checks the wait in progress; past the limit, says which wait and which processes
  /// did not take part, and ends the process.
  private func startWatchdog() {
    let thread = Thread { [self] in
      while true {
        Thread.sleep(forTimeInterval: 0.5)
        guard let (what, limit) = overdue() else { continue }
        FileHandle.standardError.write(Data((message(what, limit) + "\n").utf8))
        // _exit, not exit: the waiting thread is inside MLX's collective, whose static destructors
        // (thread pools, the ring's sockets) would block an orderly exit.
        _exit(75)
      }
    }
    thread.name = "maskdm.collective-watchdog"
    thread.start()
  }

  private func message(_ what: String, _ limit: Double) -> String {
    let others = (0..<size).filter { $0 != rank }.map(String.init)
    let missing = others.count == 1 ? "process \(others[0]) did not take part" : "one or more of processes \(others.joined(separator: ", ")) did not take part"
    return "maskdm: process \(rank) of \(size) waited \(String(format: "%g", limit)) s in \(what) for the other processes: "
      + "\(missing) (stopped, hung, lost with its node, or slower than --collective-timeout); leaving the distributed job"
  }
}

extension DistributedGroup {
  /// Runs `body`, which waits for the other processes (it evaluates a collective), under the group's
  /// `collectiveTimeout`; `what` names the wait in the message, e.g. "the gradient sum of step 12".
  public func waiting<T>(in what: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
    guard size > 1 else { return try body() }
    deadline.begin(what())
    defer { deadline.end() }
    return try body()
  }
}
