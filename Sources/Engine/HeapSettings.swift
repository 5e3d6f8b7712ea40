import CMLX
import Foundation

/// glibc's heap settings for the engine's CPU buffers, applied once when the engine starts.
///
/// MLX's CPU allocator takes every array from `malloc` and gives it back with `free`, so a training
/// step allocates and frees the same few-MB buffers hundreds of times. By default glibc adapts: it
/// serves such a buffer from the heap once one of its size was freed, but then returns the top of the
/// heap to the system whenever more than twice that is free, and the next step faults the pages back
/// in, zeroed by the kernel (5% of the quick model's training step in `clear_page` and page faults).
/// Fixed thresholds keep buffers under 32 MB on the heap and the heap's top while less than 64 MB of it
/// is free: the quick preset's training step ran 18% faster and its sampling 20%, s32's step unchanged,
/// peak memory within a few percent (docs/performance.md, "The heap between steps"). A user's own `GLIBC_TUNABLES` or `MALLOC_*`
/// settings are left alone.
enum HeapSettings {
  /// Buffers up to this size come from the heap, not from their own mapping.
  static let mapThreshold: Int32 = 32 << 20
  /// Free memory at the heap's top is kept until it exceeds this.
  static let trimThreshold: Int32 = 64 << 20

  /// Whether the thresholds were set when the engine started (nil before it started).
  static private(set) var appliedAtStart: Bool?

  /// Whether the environment already tunes glibc's allocator.
  static func userTuned(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
    environment.keys.contains { $0.hasPrefix("MALLOC_") } || environment["GLIBC_TUNABLES"]?.contains("malloc") == true
  }

  /// Applies the thresholds (glibc only) as the engine starts.
  static func applyAtStart() {
    appliedAtStart = !userTuned() && mlxs_set_heap_thresholds(mapThreshold, trimThreshold) == 1
  }

  /// How many blocks glibc has mapped on their own (nil where the C library is not glibc).
  static var mappedBlocks: Int? {
    let n = mlxs_heap_mapped_blocks()
    return n < 0 ? nil : n
  }
}
