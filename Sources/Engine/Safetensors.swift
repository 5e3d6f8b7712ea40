// Reading and writing safetensors (the format of MLX and Hugging Face), every dtype included.
import CMLX
import Foundation

/// Tensors by name plus string metadata, as stored in one `.safetensors` file.
public struct SafetensorsFile {
  public var tensors: [String: Tensor]
  public var metadata: [String: String]
  public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Reads a file; every tensor is read at once, so a truncated or corrupt file fails here.
  public static func load(_ url: URL) throws -> SafetensorsFile {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw EngineError("no such file: \(url.path)")
    }
    final class Sink { var file = SafetensorsFile() }
    let sink = Sink()
    try Engine.run {
      let status = withExtendedLifetime(sink) {
        mlxs_load_safetensors(
          url.path, Unmanaged.passUnretained(sink).toOpaque(),
          { ctx, name, array in
            let s = Unmanaged<Sink>.fromOpaque(ctx!).takeUnretainedValue()
            s.file.tensors[String(cString: name!)] = Tensor(owning: array)
          },
          { ctx, key, value in
            let s = Unmanaged<Sink>.fromOpaque(ctx!).takeUnretainedValue()
            s.file.metadata[String(cString: key!)] = String(cString: value!)
          })
      }
      try checkStatus(status, "reading \(url.lastPathComponent) as safetensors")
    }
    return sink.file
  }

  /// Writes the file (in place; callers wanting atomicity write to a temporary name and rename).
  public func save(_ url: URL) throws {
    let names = tensors.keys.sorted()
    let hs = names.map { tensors[$0]!.handle }
    let keys = metadata.keys.sorted()
    let values = keys.map { metadata[$0]! }
    try Engine.run {
      try withCStrings(names) { cNames in
        try withCStrings(keys) { cKeys in
          try withCStrings(values) { cValues in
            try checkStatus(
              mlxs_save_safetensors(url.path, cNames, hs, Int32(hs.count), cKeys, cValues, Int32(keys.count)),
              "writing \(url.path)")
          }
        }
      }
    }
  }
}

/// Calls body with C strings for each element of `strings`, alive for the call.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
  let copies = strings.map { strdup($0) }
  defer { copies.forEach { free($0) } }
  return try body(copies.map { UnsafePointer($0) })
}
