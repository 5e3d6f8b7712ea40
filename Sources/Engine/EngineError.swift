// Errors of the array engine: every MLX failure (a shape mismatch, a bad dtype, out of memory)
// arrives here as a thrown Swift error carrying MLX's own message. Nothing in the engine exits.
import CMLX

/// A failure reported by MLX or by the engine's own checks.
public struct EngineError: Error, CustomStringConvertible, Equatable {
  /// What went wrong, in MLX's words where MLX reported it.
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Turns a shim status code into a throw with the thread's last error text.
@inline(__always)
func checkStatus(_ status: Int32, _ what: @autoclosure () -> String = "") throws {
  if status != 0 {
    let text = String(cString: mlxs_last_error())
    let context = what()
    throw EngineError(context.isEmpty ? text : "\(context): \(text)")
  }
}
