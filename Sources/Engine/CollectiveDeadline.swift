// A deadline on every wait for the other processes of a data-parallel job. MLX's collectives block
// until every rank has contributed: a rank that hangs, is stopped, or dies without its launcher
// noticing (a node lost under mpirun or srun) would leave the others waiting forever. Each wait runs
// under `DistributedGroup.waiting(in:)`; a watchdog thread ends the process when one lasts longer than
// `collectiveTimeout`, naming the wait and the processes that did not arrive. Nothing is lost by
// leaving: checkpoints and metrics are written atomically as they go, and the launcher (or mpirun's
// abort on a failed rank, or `srun --kill-on-bad-exit`) stops the rest of the job.
import Foundation

/// The wait in progress, shared by the waiting thread and the watchdog thread.
final class CollectiveDeadline: @unchecked Sendable {
  private let lock = NSLock()
  private var current: (what: String, since: Date)?
  private var started = false

  /// Marks the start (`what` non-nil) or the end (nil) of a wait.
  func set(_ what: String?) {
    lock.lock()
    defer { lock.unlock() }
    current = what.map { ($0, Date()) }
  }

  /// The wait in progress and its duration so far.
  func inProgress() -> (what: String, seconds: Double)? {
    lock.lock()
    defer { lock.unlock() }
    return current.map { ($0.what, Date().timeIntervalSince($0.since)) }
  }

  /// Starts the watchdog once: every half second it checks the wait in progress against `timeout()`
  /// and, past it, writes `message(what, limit)` to stderr and ends the process.
  func startWatchdog(timeout: @escaping () -> Double, message: @escaping (_ what: String, _ limit: Double) -> String) {
    lock.lock()
    defer { lock.unlock() }
    guard !started else { return }
    started = true
    let thread = Thread { [self] in
      while true {
        Thread.sleep(forTimeInterval: 0.5)
        let limit = timeout()
        guard limit > 0, let (what, seconds) = inProgress(), seconds > limit else { continue }
        FileHandle.standardError.write(Data((message(what, limit) + "\n").utf8))
        // _exit, not exit: the waiting thread is inside MLX's collective, whose static destructors
        // (thread pools, the ring's sockets) would block an orderly exit.
        _exit(75)
      }
    }
    thread.name = "maskdm.collective-watchdog"
    thread.start()
  }
}

extension DistributedGroup {
  /// Runs `body`, which waits for the other processes (it evaluates a collective), under the group's
  /// `collectiveTimeout`; `what` names the wait in the message, e.g. "the gradient sum of step 12".
  public func waiting<T>(in what: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
    guard size > 1 else { return try body() }
    deadline.startWatchdog(timeout: { [weak self] in self?.collectiveTimeout ?? 0 }) { [rank, size] what, limit in
      let others = (0..<size).filter { $0 != rank }.map(String.init)
      let missing = others.count == 1 ? "process \(others[0]) did not take part" : "one or more of processes \(others.joined(separator: ", ")) did not take part"
      return "maskdm: process \(rank) of \(size) waited \(String(format: "%g", limit)) s in \(what) for the other processes: "
        + "\(missing) (stopped, hung, lost with its node, or slower than --collective-timeout); leaving the distributed job"
    }
    deadline.set(what())
    defer { deadline.set(nil) }
    return try body()
  }
}
