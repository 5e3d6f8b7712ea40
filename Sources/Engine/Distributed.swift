// Data-parallel communication through MLX's own distributed layer (`mlx::core::distributed`): one
// process per device, a group set up from the launcher's environment, and `all_sum` — the one
// collective data-parallel training needs. Backends are MLX's: ring (TCP sockets, CPU), MPI, NCCL.
import CMLX
import Foundation

/// A communication backend of MLX's distributed layer.
public enum DistributedBackend: String, CaseIterable, Sendable {
  /// TCP sockets between the ranks listed in a JSON hostfile (`MLX_RANK`, `MLX_HOSTFILE`).
  case ring
  /// MPI (launched by `mpirun` / `srun --mpi`; needs libmpi at run time).
  case mpi
  /// NVIDIA's NCCL (CUDA builds; `MLX_RANK`, `MLX_WORLD_SIZE`, `NCCL_HOST_IP`, `NCCL_PORT`).
  case nccl
  /// The first that initialises.
  case any
}

/// The processes of one distributed job. Rank 0 is the one that writes files.
public final class DistributedGroup: @unchecked Sendable {
  /// MLX's group; nil for a group of one, which needs no backend.
  let handle: mlxs_group?
  /// This process's index in the group, 0 ..< size.
  public let rank: Int
  /// The number of processes in the group.
  public let size: Int
  /// The backend it was joined with ("none" for a group of one; "any" when MLX chose).
  public let backend: String
  /// Seconds a wait for the other processes may last before this one leaves the job, naming the wait
  /// (`waiting(in:)`; 0: no limit). The first training step includes compilation: keep it generous.
  public var collectiveTimeout: Double {
    get { deadline.seconds }
    set { deadline.seconds = newValue }
  }
  let deadline: CollectiveDeadline

  private init(handle: mlxs_group?, backend: String = "none") {
    self.handle = handle
    self.backend = backend
    rank = handle.map { Int(mlxs_group_rank($0)) } ?? 0
    size = handle.map { Int(mlxs_group_size($0)) } ?? 1
    deadline = CollectiveDeadline(rank: rank, size: size, limit: 600)
  }

  deinit { if let handle { mlxs_group_free(handle) } }

  /// A group of one: this process alone (all-sums return their input; no backend is set up).
  public static func single() -> DistributedGroup { DistributedGroup(handle: nil) }

  /// Joins the job described by the environment (see `DistributedBackend`); fails, saying how to
  /// launch, when the backend cannot be set up.
  public static func initialize(backend: DistributedBackend = .any) throws -> DistributedGroup {
    try Engine.run {
      guard isAvailable(backend) else { throw EngineError(unavailable(backend)) }
      var out = mlxs_group(ctx: nil)
      try checkStatus(mlxs_distributed_init(&out, true, backend.rawValue), "joining the distributed job (\(backend.rawValue) backend)")
      return DistributedGroup(handle: out, backend: backend.rawValue)
    }
  }

  /// Why `backend` cannot be set up, and the fix. MLX's MPI backend opens `libmpi.so` (or
  /// `$MLX_MPI_LIBNAME`) when it is first asked for, so "not available" there means no MPI library
  /// was found, not a build without MPI.
  static func unavailable(_ backend: DistributedBackend) -> String {
    switch backend {
    case .mpi:
      let name = ProcessInfo.processInfo.environment["MLX_MPI_LIBNAME"] ?? "libmpi.so"
      return "MLX's mpi backend could not load \(name): Open MPI is not installed (or not on the library path). "
        + "Install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev, which brings libmpi.so and mpirun; "
        + "on a cluster: module load openmpi), or point MLX_MPI_LIBNAME at the library, then launch with "
        + "mpirun -np N maskdm … --distributed --backend mpi"
    case .nccl:
      return "MLX's nccl backend is not available: it needs the CUDA build of libmlx (README: On an NVIDIA GPU) and NCCL"
    case .ring, .any:
      return "MLX's \(backend.rawValue) backend is not available in this build of libmlx"
    }
  }

  /// Whether `backend` is compiled into the loaded libmlx (for mpi: whether libmpi could be loaded).
  public static func isAvailable(_ backend: DistributedBackend) -> Bool {
    (try? Engine.run { mlxs_distributed_is_available(backend == .any ? nil : backend.rawValue) != 0 }) ?? false
  }

  /// The element-wise sum of `x` over all processes (lazy; every rank must call it in the same order).
  public func allSum(_ x: Tensor) throws -> Tensor {
    guard let handle, size > 1 else { return x }
    return try Tensor.make("all_sum") { mlxs_all_sum($0, x.handle, handle) }
  }

  /// The sum of each tensor over all processes, in one collective: the tensors are flattened into
  /// one buffer of `dtype`, summed, split and reshaped back (one message instead of one per tensor).
  public func allSum(_ tensors: [Tensor], dtype: DType = .float32) throws -> [Tensor] {
    if size == 1 || tensors.isEmpty { return tensors }
    let flat = try Tensor.concatenate(tensors.map { try $0.astype(dtype).reshaped([-1]) })
    let summed = try allSum(flat)
    var offsets: [Int] = []
    var total = 0
    for t in tensors.dropLast() {
      total += t.size
      offsets.append(total)
    }
    let parts = try summed.split(at: offsets)
    return try zip(parts, tensors).map { try $0.reshaped($1.shape).astype($1.dtype) }
  }

  /// Rank 0's value of `value`, on every rank (a sum where the other ranks contribute 0).
  public func broadcastFromRoot(_ value: Double) throws -> Double {
    if size == 1 { return value }
    return try Engine.run {
      let mine = try Tensor.scalar(rank == 0 ? value : 0, dtype: .float64)
      return try waiting(in: "a value sent from process 0") { try allSum(mine).item() }
    }
  }

  /// True when every rank passes `ok == true` (each contributes its failure as 0 or 1 to a sum).
  public func allSucceeded(_ ok: Bool) throws -> Bool {
    if size == 1 { return ok }
    return try Engine.run { try waiting(in: "the check that every process succeeded") { try allSum(try Tensor.scalar(ok ? 0 : 1)).item() == 0 } }
  }

  /// Waits until every rank has called it (an all-sum of one number, evaluated).
  public func barrier() throws {
    if size == 1 { return }
    try Engine.run { _ = try waiting(in: "a barrier") { try allSum(try Tensor.scalar(1)).item() } }
  }
}
