// A minimal parallel-for for this project's CPU kernels. MLX runs one CPU task at a time on its
// stream, and OpenBLAS is idle while our kernels run, so the kernels may use every core.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <thread>
#include <vector>

namespace cmlx {

/** Threads for our kernels: $MASKDM_THREADS, else the hardware's count. */
inline int kernel_threads() {
  static int n = [] {
    if (const char* s = std::getenv("MASKDM_THREADS")) return std::max(1, std::atoi(s));
    return int(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return n;
}

/** Calls body(begin, end) over [0, n) split into contiguous chunks, one per thread, when n is
 *  large enough (`grain` elements per thread at least) to pay for starting threads. */
template <typename F>
void parallel_for(size_t n, size_t grain, F&& body) {
  size_t threads = std::min<size_t>(kernel_threads(), std::max<size_t>(1, n / std::max<size_t>(grain, 1)));
  if (threads <= 1) {
    body(size_t(0), n);
    return;
  }
  std::vector<std::thread> pool;
  size_t chunk = (n + threads - 1) / threads;
  for (size_t t = 1; t < threads; ++t) {
    size_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back([&body, b, e] { body(b, e); });
  }
  body(size_t(0), std::min(n, chunk));
  for (auto& th : pool) th.join();
}
}  // namespace cmlx
