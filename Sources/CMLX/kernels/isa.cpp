// The choice of isa.h: read once from the environment, then only changed by set_isa().
#include "isa.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cmlx {
namespace {

Isa widest_supported() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::generic;
}

Isa from_environment() {
  const Isa best = widest_supported();
  const char* gemm = std::getenv("MASKDM_GEMM");
  const char* choice = std::getenv("MASKDM_ISA");
  if (!choice || !*choice) return gemm && std::strcmp(gemm, "blas") == 0 ? Isa::generic : best;
  Isa wanted;
  if (std::strcmp(choice, "avx512") == 0)
    wanted = Isa::avx512;
  else if (std::strcmp(choice, "avx2") == 0)
    wanted = Isa::avx2;
  else if (std::strcmp(choice, "generic") == 0)
    wanted = Isa::generic;
  else {
    std::fprintf(stderr, "maskdm: MASKDM_ISA=%s is not avx512, avx2 or generic; using %s\n", choice, isa_name(best));
    return best;
  }
  if (int(wanted) > int(best)) {
    std::fprintf(stderr, "maskdm: this CPU cannot run MASKDM_ISA=%s; using %s\n", choice, isa_name(best));
    return best;
  }
  return wanted;
}

std::atomic<int>& current() {
  static std::atomic<int> path{int(from_environment())};
  return path;
}
}  // namespace

Isa isa() { return Isa(current().load(std::memory_order_relaxed)); }

bool isa_supported(Isa path) { return int(path) <= int(widest_supported()); }

bool set_isa(Isa path) {
  if (!isa_supported(path)) return false;
  current().store(int(path), std::memory_order_relaxed);
  return true;
}

const char* isa_name(Isa path) {
  switch (path) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}
}  // namespace cmlx
