import Engine
import XCTest

/// The C-ABI group and all_sum in one process (the 2-process behaviour is tested through the CLI,
/// DistributedCLITests): the loaded libmlx has the ring backend, a group of one sums to its input.
final class DistributedTests: XCTestCase {
  func testRingBackendIsInTheLoadedLibmlx() {
    XCTAssertTrue(DistributedGroup.isAvailable(.ring), "the ring backend (TCP) must be compiled into libmlx")
  }

  func testSingleProcessGroupIsRankZeroOfOne() throws {
    try onEngine {
      let group = DistributedGroup.single()
      XCTAssertEqual(group.rank, 0)
      XCTAssertEqual(group.size, 1)
      let parts = try group.allSum([try Tensor([Float(1), 2, 3]), try Tensor([Float(4), 5, 6, 7], shape: [2, 2])])
      XCTAssertEqual(try parts[0].floats(), [1, 2, 3])
      XCTAssertEqual(parts[1].shape, [2, 2])
      XCTAssertTrue(try group.allSucceeded(true))
      XCTAssertFalse(try group.allSucceeded(false))
      XCTAssertEqual(try group.broadcastFromRoot(2.5), 2.5)
    }
  }

  func testStrictInitWithoutALauncherFailsWithAMessage() throws {
    // No MLX_RANK / MLX_HOSTFILE in a test run: the ring backend cannot form a job.
    XCTAssertThrowsError(try DistributedGroup.initialize(backend: .ring)) { error in
      XCTAssertFalse("\(error)".isEmpty)
    }
  }
}
