// A minimal parallel-for for this project's CPU kernels. MLX runs one CPU task at a time on its
// stream, and OpenBLAS is idle while our kernels run, so the kernels may use every core.
//
// The helpers are a pool started once and kept: a training step runs 394 parallel sections (s32 at 90%
// masking, 197 of them matrix products; counted with breakpoints on run_parallel and sgemm over 2 and
// 4 steps), most of them small (8 tokens per image), too small to start a thread for each. Idle helpers
// spin briefly, then sleep (see parallel.cpp).
#pragma once
#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace cmlx {

/** Threads for our kernels: $MASKDM_THREADS, else the hardware's count. */
int kernel_threads();

/** Runs task(context, i) for every i in [0, tasks) on the pool and the calling thread; returns when all
 *  are done. Calls from a pool thread, or while another thread's call is running, run inline. */
void run_parallel(size_t tasks, void (*task)(void* context, size_t i), void* context);

/** Calls task(i) for every i in [0, tasks), the tasks claimed by the pool's threads and the caller
 *  (run_parallel for a callable with captures). */
template <typename F>
void parallel_tasks(size_t tasks, F&& task) {
  run_parallel(
      tasks, [](void* f, size_t i) { (*static_cast<std::remove_reference_t<F>*>(f))(i); },
      const_cast<void*>(static_cast<const void*>(&task)));
}

/** Calls body(begin, end) over [0, n) split into contiguous chunks, one per thread, when n is large
 *  enough (`grain` elements per thread at least) to pay for waking a helper. */
template <typename F>
void parallel_for(size_t n, size_t grain, F&& body) {
  size_t threads = std::min<size_t>(kernel_threads(), std::max<size_t>(1, n / std::max<size_t>(grain, 1)));
  if (threads <= 1) {
    body(size_t(0), n);
    return;
  }
  size_t chunk = (n + threads - 1) / threads;
  parallel_tasks(threads, [&](size_t i) {
    size_t b = i * chunk, e = std::min(n, b + chunk);
    if (b < e) body(b, e);
  });
}
}  // namespace cmlx
