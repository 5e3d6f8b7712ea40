import Foundation
@testable import Engine
import XCTest

/// The heap thresholds set as the engine starts (HeapSettings.swift).
final class HeapSettingsTests: XCTestCase {
  func testAUserTunedAllocatorIsLeftAlone() {
    XCTAssertFalse(HeapSettings.userTuned(["PATH": "/usr/bin", "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"]))
    XCTAssertTrue(HeapSettings.userTuned(["GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"]))
    XCTAssertTrue(HeapSettings.userTuned(["MALLOC_ARENA_MAX": "2"]))
  }

  func testTheEngineSetsTheThresholdsWhenItStarts() throws {
    try Engine.run {}
    XCTAssertEqual(HeapSettings.appliedAtStart, !HeapSettings.userTuned(), "the engine applies the heap settings as it starts")
    guard HeapSettings.appliedAtStart == true, let mappedBefore = HeapSettings.mappedBlocks else { return }
    // A buffer under the 32 MB threshold comes from the heap, not from a mapping of its own.
    let size = 31 << 20
    let buffer = try XCTUnwrap(malloc(size))
    XCTAssertEqual(HeapSettings.mappedBlocks, mappedBefore, "a 31 MB buffer was mapped on its own")
    memset(buffer, 1, size)
    free(buffer)
  }
}
