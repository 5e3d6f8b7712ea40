import Foundation
import XCTest

/// A test case with its own scratch folder and dataset cache ($MASKDM_CACHE inside it), removed after.
class ScratchCacheTestCase: XCTestCase {
  var scratch: URL!
  private var previousCache: String?

  override func setUpWithError() throws {
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("\(type(of: self))-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    previousCache = ProcessInfo.processInfo.environment["MASKDM_CACHE"]
    setenv("MASKDM_CACHE", scratch.appendingPathComponent("cache").path, 1)
  }

  override func tearDownWithError() throws {
    if let previousCache { setenv("MASKDM_CACHE", previousCache, 1) } else { unsetenv("MASKDM_CACHE") }
    try? FileManager.default.removeItem(at: scratch)
  }
}
