// A fuzz target for the restricted PyTorch-file reader (bounds-checked zip, allowlist unpickler,
// tensor views): every input must be loaded or refused with an error, never crash, hang or call
// anything. Built with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz_torch_reader.sh) it is a libFuzzer
// binary; built plainly (as `make test` builds every target) it replays the files named on its
// command line, which is how a crash input that libFuzzer saved is checked after a fix.
import Engine
import TorchFormats
import Foundation

/// Reads `data` as a PyTorch file; a thrown error is a correct refusal. Returns what happened.
@discardableResult
func parse(_ data: Data) -> String {
  do {
    let file = try Engine.run { try TorchFile(data: data, source: "fuzz-input") }
    return "loaded (\(file.tensors.count) tensors)"
  } catch {
    return "refused: \(error)"
  }
}

/// One libFuzzer input.
let fuzzOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { bytes, count in
  if let bytes { parse(Data(bytes: bytes, count: count)) }
  return 0
}

#if FUZZING
/// libFuzzer's driver (arguments, corpus, mutation loop); only declared, never defined, here.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
  _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@main
enum FuzzTorchFile {
  static func main() {
    #if FUZZING
    // SwiftPM makes this function the program's `main`, so libFuzzer's own is not linked: start its
    // driver by hand (LLVMFuzzerRunDriver, libFuzzer's entry point for programs with a main).
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
    #else
    let paths = CommandLine.arguments.dropFirst()
    if paths.isEmpty {
      print("usage: fuzz-torch-file FILE... (replays inputs; scripts/fuzz_torch_reader.sh fuzzes)")
      exit(2)
    }
    for path in paths {
      guard let data = FileManager.default.contents(atPath: path) else {
        print("\(path): cannot read")
        exit(1)
      }
      print("\(path): \(parse(data))")
    }
    #endif
  }
}
