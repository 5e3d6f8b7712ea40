// MLX's distributed layer through the C ABI: a communication group (ring over TCP, MPI, NCCL — all
// MLX's own backends, chosen by name or "any") and the all-sum collective used for data parallelism.
// A group handle owns a copy of mlx::core::distributed::Group (a shared pointer to the backend).
#include "internal.h"
#include "mlx/distributed/distributed.h"
#include "mlx/distributed/ops.h"

using namespace cmlx;
namespace dist = mlx::core::distributed;

namespace {
dist::Group& group_of(mlxs_group g) { return *static_cast<dist::Group*>(g.ctx); }
}  // namespace

extern "C" {
int mlxs_distributed_is_available(const char* backend) {
  try {
    return (backend == nullptr ? dist::is_available() : dist::is_available(std::string(backend))) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int mlxs_distributed_init(mlxs_group* out, bool strict, const char* backend) {
  return guard([&] {
    std::string bk = backend == nullptr ? "any" : backend;
    out->ctx = new dist::Group(dist::init(strict, bk));
  });
}

int mlxs_group_free(mlxs_group g) {
  delete static_cast<dist::Group*>(g.ctx);
  return 0;
}

int mlxs_group_rank(mlxs_group g) { return group_of(g).rank(); }
int mlxs_group_size(mlxs_group g) { return group_of(g).size(); }

int mlxs_all_sum(mlxs_array* out, mlxs_array a, mlxs_group g) {
  return guard([&] { put(out, dist::all_sum(get(a), group_of(g))); });
}
}
