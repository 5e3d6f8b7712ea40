import Engine
import MaskDM
import XCTest

@testable import Training

/// The sampling batch a device gets when none is asked for.
final class SamplingBatchTests: XCTestCase {
  let s32 = ModelConfig.s32
  let celeba64 = ModelConfig.celebA64
  let gib = 1 << 30

  func testTheCPUBatchFollowsTheModelNotTheMemory() {
    // s32 is fastest at 16-32 images on a small CPU, the tiny model at 64; celeba64 gets the smallest.
    for memory in [gib, 100 * gib] {
      XCTAssertEqual(SamplingBatch.automatic(for: s32, device: .cpu, memoryLimit: memory, guided: false), 32)
      XCTAssertEqual(SamplingBatch.automatic(for: .tiny, device: .cpu, memoryLimit: memory, guided: false), SamplingBatch.cpu)
      XCTAssertEqual(SamplingBatch.automatic(for: celeba64, device: .cpu, memoryLimit: memory, guided: false), SamplingBatch.cpuMinimum)
    }
    XCTAssertEqual(SamplingBatch.automatic(for: s32, device: .cpu, memoryLimit: gib, guided: true), 16)
  }

  func testAGPUBatchGrowsWithItsMemoryAndStopsAtTheMaximum() {
    let large = SamplingBatch.automatic(for: s32, device: .gpu, memoryLimit: 100 * gib, guided: false)
    XCTAssertEqual(large, SamplingBatch.gpuMaximum)
    // A memory that holds only a few images still gets the CPU's batch, never less.
    XCTAssertEqual(SamplingBatch.automatic(for: celeba64, device: .gpu, memoryLimit: 64 << 20, guided: false), SamplingBatch.cpu)
    // In between, a power of two whose working set fits the share of memory given to it.
    let memory = 16 * gib
    let batch = SamplingBatch.automatic(for: celeba64, device: .gpu, memoryLimit: memory, guided: false)
    XCTAssertGreaterThan(batch, SamplingBatch.cpu)
    XCTAssertLessThan(batch, SamplingBatch.gpuMaximum)
    XCTAssertEqual(batch & (batch - 1), 0, "a power of two")
    let perImage = SamplingBatch.workingSetBytes(celeba64, guided: false)
    XCTAssertLessThanOrEqual(Double(batch) * perImage, Double(memory) * SamplingBatch.gpuMemoryShare)
    XCTAssertGreaterThan(Double(2 * batch) * perImage, Double(memory) * SamplingBatch.gpuMemoryShare)
    // Guidance evaluates every batch twice: half the batch in the same memory.
    XCTAssertEqual(SamplingBatch.automatic(for: celeba64, device: .gpu, memoryLimit: memory, guided: true), batch / 2)
  }

  func testTheWorkingSetGrowsWithTheModel() {
    XCTAssertGreaterThan(SamplingBatch.workingSetBytes(celeba64, guided: false), 4 * SamplingBatch.workingSetBytes(s32, guided: false))
  }

  func testAJobWithoutABatchSizeTakesTheDevices() throws {
    // The CPU build samples the tiny model 64 at a time unless told otherwise: 70 images come in
    // batches of 64 and 6.
    var config = TrainConfig()
    config.network = .tiny
    var job = SamplingJob(config: config, weights: URL(fileURLWithPath: "/dev/null"), count: 70, sampler: .ddim(steps: 1, eta: 0))
    XCTAssertNil(job.batchSize)
    var batches: [Int] = []
    let model = try Engine.run { try MaskedUViT(config.network, key: PRNGKey(seed: 0)) }
    try job.run(model: model, consume: { images, _ in batches.append(images.shape[0]) })
    XCTAssertEqual(batches, [64, 6])
    job.batchSize = 0
    XCTAssertThrowsError(try job.validate())
  }
}

/// A study's grids are written nearest-neighbour upscaled, so that 32-pixel samples are large enough to see.
final class SampleGridScaleTests: XCTestCase {
  func testUpscaledRepeatsEveryPixel() {
    // Two by one pixels, two channels: (1, 2) and (3, 4).
    let big = upscaled([1, 2, 3, 4], width: 2, height: 1, channels: 2, by: 3)
    XCTAssertEqual(big.count, 4 * 9)
    let row = [1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4].map(UInt8.init)
    XCTAssertEqual(big, row + row + row)
    XCTAssertEqual(upscaled([7, 8], width: 2, height: 1, channels: 1, by: 1), [7, 8])
  }
}
