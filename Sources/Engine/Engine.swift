// The engine thread, devices and memory statistics.
//
// MLX is not made for concurrent calls and its GPU streams are thread-local, so every MLX call of
// the process runs on one dedicated thread. `Engine.run` carries a closure there and back; data
// loading and other work stay on their own threads and hand over plain byte buffers.
import CMLX
import Foundation

/// The process-wide MLX engine: its thread, its device and its memory.
public enum Engine {
  /// Runs `body` on the engine thread and returns its result (directly when already there).
  public static func run<T>(_ body: () throws -> T) throws -> T {
    if EngineThread.isCurrent { return try body() }
    return try withoutActuallyEscaping(body) { escapable in
      var result: Result<T, Error>!
      EngineThread.shared.perform { result = Result { try escapable() } }
      return try result.get()
    }
  }

  /// True when the calling thread may call MLX.
  public static var isOnEngineThread: Bool { mlxs_on_engine_thread() != 0 }

  /// MLX's version string.
  public static var mlxVersion: String {
    _ = EngineThread.shared
    return String(cString: mlxs_version())
  }

  /// Who multiplies float32 matrices for Linear layers and convolutions on the CPU: "own AVX-512" or
  /// "own AVX2" on those paths (`cpuPath`), "OpenBLAS" on the generic one.
  public static var cpuMatrixProduct: String { String(cString: mlxs_cpu_matrix_product()) }

  /// The kernel OpenBLAS runs on this CPU (its openblas_get_corename: "Haswell", "Zen", "SkylakeX", …;
  /// OPENBLAS_CORETYPE pins it), or nil in a build without OpenBLAS.
  public static var openBLASCore: String? { mlxs_openblas_core().map { String(cString: $0) } }

  /// Every CPU code path of our kernels, widest first: hand-written AVX-512, AVX2 + FMA, or none
  /// ("generic": OpenBLAS and compiler-vectorised loops).
  public static let allCPUPaths = ["avx512", "avx2", "generic"]

  /// The CPU code path in use: the widest this CPU has, unless MASKDM_ISA forces one (MASKDM_GEMM=blas
  /// means generic) or `setCPUPath` switched.
  public static var cpuPath: String { String(cString: mlxs_cpu_path()) }

  /// The paths this CPU can run, widest first.
  public static var supportedCPUPaths: [String] { allCPUPaths.filter { mlxs_cpu_path_supported($0) != 0 } }

  /// Switches the CPU code path (between evaluations: a graph's primitives are chosen when it is built);
  /// an error when this CPU cannot run it.
  public static func setCPUPath(_ path: String) throws {
    guard mlxs_set_cpu_path(path) != 0 else {
      throw EngineError("this CPU cannot run the \(path) path (it runs \(supportedCPUPaths.joined(separator: ", ")))")
    }
  }

  /// Runs `body` once on each path this CPU can run, the path set for it, and restores the one in use.
  public static func forEachCPUPath(_ body: (String) throws -> Void) throws {
    let saved = cpuPath
    defer { _ = mlxs_set_cpu_path(saved) }
    for path in supportedCPUPaths {
      try setCPUPath(path)
      try body(path)
    }
  }

  /// Who runs Linear layers' products on the device new work runs on: `cpuMatrixProduct` on the CPU,
  /// "MLX" (its own matmul) on the GPU.
  public static var linearProduct: String { device == .cpu ? cpuMatrixProduct : "MLX" }

  /// Whether a GPU backend is usable in this process (a CUDA `libmlx.so` with a driver present).
  public static var gpuAvailable: Bool { (try? run { mlxs_gpu_available() != 0 }) ?? false }

  /// The device new work runs on.
  public static var device: Device {
    (try? run { mlxs_default_device() == 1 ? Device.gpu : .cpu }) ?? .cpu
  }

  /// Selects the device for new work. `.auto` takes the GPU when there is one, else the CPU;
  /// asking for `.gpu` where there is none is an error that says so.
  @discardableResult
  public static func select(_ choice: DeviceChoice) throws -> Device {
    try run {
      let device: Device
      switch choice {
      case .cpu: device = .cpu
      case .gpu:
        guard mlxs_gpu_available() != 0 else {
          throw EngineError(
            "no GPU is available to MLX in this process (the CPU build of libmlx is loaded, or no "
              + "NVIDIA driver); use --device cpu or auto")
        }
        device = .gpu
      case .auto: device = mlxs_gpu_available() != 0 ? .gpu : .cpu
      }
      try checkStatus(mlxs_set_default_device(device == .gpu ? 1 : 0))
      return device
    }
  }
}

/// A device MLX computes on.
public enum Device: String, Codable, Sendable, CustomStringConvertible {
  case cpu, gpu
  public var description: String { rawValue }
}

/// What a user asks for: a device, or the best one present.
public enum DeviceChoice: String, Codable, Sendable, CaseIterable {
  case cpu, gpu, auto
}

/// Bytes held by MLX's allocator.
public enum Memory {
  /// Bytes in live arrays now.
  public static var active: Int { Int(mlxs_memory(0)) }
  /// The most bytes live at once since the last reset.
  public static var peak: Int { Int(mlxs_memory(1)) }
  /// Bytes kept in MLX's buffer cache for reuse.
  public static var cache: Int { Int(mlxs_memory(2)) }
  /// The bytes MLX keeps its allocations under, which it sets from the device (on a GPU, from its memory).
  public static var limit: Int { Int(mlxs_memory(3)) }
  public static func resetPeak() throws { try Engine.run { try checkStatus(mlxs_reset_peak_memory()) } }
  public static func clearCache() throws { try Engine.run { try checkStatus(mlxs_clear_cache()) } }
}

/// The one thread that owns MLX. Work arrives as closures and runs in order.
final class EngineThread {
  static let shared: EngineThread = EngineThread()

  /// True on the engine thread itself.
  static var isCurrent: Bool { Thread.current.threadDictionary["maskdm.engine"] != nil }

  private let condition = NSCondition()
  private var queue: [() -> Void] = []

  private init() {
    HeapSettings.applyAtStart()
    let ready = DispatchSemaphore(value: 0)
    let thread = Thread { [unowned self] in
      Thread.current.threadDictionary["maskdm.engine"] = true
      mlxs_claim_thread()
      ready.signal()
      self.loop()
    }
    thread.name = "maskdm.engine"
    thread.stackSize = 64 << 20
    thread.start()
    ready.wait()
  }

  private func loop() -> Never {
    while true {
      condition.lock()
      while queue.isEmpty { condition.wait() }
      let work = queue.removeFirst()
      condition.unlock()
      work()
    }
  }

  /// Queues `work` on this thread without waiting.
  func performLater(_ work: @escaping () -> Void) {
    condition.lock()
    queue.append(work)
    condition.signal()
    condition.unlock()
  }

  /// Runs `work` on this thread and waits for it.
  func perform(_ work: @escaping () -> Void) {
    let done = DispatchSemaphore(value: 0)
    // The caller's closure is dropped before the caller wakes: `Engine.run` hands in a closure that
    // must not outlive the call (withoutActuallyEscaping checks that).
    var job: (() -> Void)? = work
    performLater {
      job?()
      job = nil
      done.signal()
    }
    done.wait()
  }
}
