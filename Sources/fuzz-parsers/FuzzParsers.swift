// The fuzz targets of every reader of untrusted input (ParserFuzzing.FuzzTarget): `fuzz-parsers
// TARGET …`. Built with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz_parsers.sh) it is a libFuzzer
// binary and the arguments after TARGET are libFuzzer's; built plainly (as `make test` builds every
// target) it replays the files named after TARGET, which is how an input that libFuzzer saved is
// checked after a fix.
import Foundation
import ParserFuzzing

/// The target this process fuzzes (libFuzzer's callback is a C function: it cannot capture it).
nonisolated(unsafe) var target = FuzzTarget.torch

/// One libFuzzer input.
let fuzzOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { bytes, count in
  target.parse(bytes.map { Data(bytes: $0, count: count) } ?? Data())
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
enum FuzzParsers {
  static func main() {
    let args = CommandLine.arguments
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    guard args.count >= 2, let chosen = FuzzTarget(rawValue: args[1]) else {
      print("usage: fuzz-parsers TARGET FILE... (replays inputs; scripts/fuzz_parsers.sh fuzzes); TARGET is one of \(names)")
      exit(2)
    }
    target = chosen
    #if FUZZING
    // SwiftPM makes this function the program's `main`, so libFuzzer's own is not linked: start its
    // driver by hand (LLVMFuzzerRunDriver, libFuzzer's entry point for programs with a main), with
    // TARGET taken out of the arguments it parses.
    var argv: [UnsafeMutablePointer<CChar>?] = [CommandLine.unsafeArgv[0]] + (2..<Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0] } + [nil]
    var argc = CInt(argv.count - 1)
    let status = argv.withUnsafeMutableBufferPointer { buffer -> CInt in
      var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
      return runFuzzerDriver(&argc, &pointer, fuzzOneInput)
    }
    exit(status)
    #else
    for path in args.dropFirst(2) {
      guard let data = FileManager.default.contents(atPath: path) else {
        print("\(path): cannot read")
        exit(1)
      }
      print("\(path): \(target.parse(data))")
    }
    #endif
  }
}
