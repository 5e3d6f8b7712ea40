import Foundation
import XCTest

/// Runs the `maskdm` binary built beside the tests, as a user would.
enum CLI {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static var binary: URL {
    let candidates = [".build/debug/maskdm", ".build/release/maskdm"].map { packageRoot.appendingPathComponent($0) }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
  }

  struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `maskdm args…` (or `executable args…`) to completion. With a deadline (seconds), a process
  /// still running then gets SIGTERM (a launcher stops its processes), SIGKILL 10 s later, and the test fails.
  @discardableResult
  static func run(_ args: [String], environment: [String: String] = [:], deadline seconds: Double? = nil,
                  executable: URL? = nil, in directory: URL? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> Output {
    let process = try start(args, environment: environment, executable: executable, in: directory)
    let out = process.standardOutput as! Pipe, err = process.standardError as! Pipe
    var outData = Data(), errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    if let seconds {
      let deadline = Date().addingTimeInterval(seconds)
      while process.isRunning, Date() < deadline { usleep(50_000) }
      if process.isRunning {
        kill(process.processIdentifier, SIGTERM)
        let grace = Date().addingTimeInterval(10)
        while process.isRunning, Date() < grace { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        XCTFail("\((executable ?? binary).lastPathComponent) \(args.joined(separator: " ")) ran past \(Int(seconds)) s", file: file, line: line)
      }
    }
    process.waitUntilExit()
    group.wait()
    return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                  stderr: String(decoding: errData, as: UTF8.self))
  }

  /// Starts `maskdm args…` (or `executable args…`) in `directory` (the package root unless given)
  /// and returns the running process (output piped).
  static func start(_ args: [String], environment: [String: String] = [:], executable: URL? = nil, in directory: URL? = nil) throws -> Process {
    let process = Process()
    process.executableURL = executable ?? binary
    process.arguments = args
    process.currentDirectoryURL = directory ?? packageRoot
    var env = ProcessInfo.processInfo.environment
    env["MASKDM_CACHE"] = cache.path
    for (k, v) in environment { env[k] = v }
    process.environment = env
    process.standardOutput = Pipe()
    process.standardError = Pipe()
    try process.run()
    return process
  }

  /// A dataset cache shared by the CLI tests of one test run.
  static let cache = FileManager.default.temporaryDirectory.appendingPathComponent("maskdm-cli-cache-\(getpid())")

  static func temporaryDirectory(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
  }
}
