// The CPU thread budget of a maskdm process. OpenBLAS's worker threads busy-wait (sched_yield) for
// about 2^28 cycles after every matrix product before they sleep; on a 2-core machine that spinning
// takes the second core from this project's own multi-threaded kernels (attention, LayerNorm, GELU,
// AdamW), which run between the products. With OPENBLAS_THREAD_TIMEOUT=4 the workers sleep at once
// and wake for the next product (`maskdm bench train --preset s32`, 2 cores, OpenBLAS choosing its
// own kernels, one run each: 90% masked 315 -> 352 img/s, unmasked 50 -> 55). OpenBLAS reads the
// variable only while it loads, before any code of ours runs, so the CLI sets it and executes itself
// again, once; a value the user set is kept.
#if os(Linux)
import Glibc

enum ThreadBudget {
  static let variable = "OPENBLAS_THREAD_TIMEOUT"

  /// Re-executes this process with OpenBLAS's spin timeout set, unless it is set already.
  static func applyOpenBLASTimeout() {
    guard getenv(variable) == nil else { return }
    setenv(variable, "4", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // Only reached when exec failed: run on with OpenBLAS's default, which is slower but correct.
  }
}
#else
enum ThreadBudget {
  static func applyOpenBLASTimeout() {}
}
#endif
