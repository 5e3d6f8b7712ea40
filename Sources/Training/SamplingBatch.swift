// How many images one sampling batch holds when the user does not say: sized to the device. On the
// CPU a batch is fastest while its working set stays near the caches: s32 (1.7 MB per image) sampled
// at 21.8 img/s in batches of 16, 20.7 at 32, 16.8 at 64 and 13.5 at 128, while the tiny model (0.11
// MB per image) went from 589 img/s at 16 to 1038 at 64 (`maskdm bench sample --steps 10`,
// 2-core Zen 5). A GPU is filled only by much larger batches, as many as its memory holds with room
// to spare.
import Engine
import MaskDM

/// The default sampling batch of a model on a device.
public enum SamplingBatch {
  /// The CPU's batch is the largest power of two from `cpuMinimum` to `cpu` whose working set fits
  /// `cpuWorkingSet` bytes (about twice the last-level cache of a small machine).
  public static let cpuMinimum = 16
  public static let cpu = 64
  public static let cpuWorkingSet = 64.0 * 1024 * 1024
  /// A GPU's batch is the largest power of two from `cpu` up to this.
  public static let gpuMaximum = 1024
  /// The share of MLX's memory limit a GPU batch's working set may take (the weights, MLX's cache
  /// and the previous batch's images live beside it).
  public static let gpuMemoryShare = 0.25

  /// The batch for `network` on `device`, given the bytes MLX may allocate (`Memory.limit`).
  public static func automatic(for network: ModelConfig, device: Device, memoryLimit: Int, guided: Bool) -> Int {
    let perImage = workingSetBytes(network, guided: guided)
    let (smallest, largest, budget) = device == .gpu
      ? (cpu, gpuMaximum, Double(memoryLimit) * gpuMemoryShare) : (cpuMinimum, cpu, cpuWorkingSet)
    var batch = smallest
    while batch * 2 <= largest, Double(batch * 2) * perImage <= budget { batch *= 2 }
    return batch
  }

  /// Bytes one image's network evaluation holds at its peak, counted high: the long skip
  /// connections of the in-blocks, one block's q/k/v, attention scores and MLP hidden layer, and the
  /// sampler's few images, in float32; doubled with guidance (each step evaluates the batch twice).
  public static func workingSetBytes(_ n: ModelConfig, guided: Bool) -> Double {
    let d = Double(n.embedDim), hidden = n.hiddenWidth
    let grid = Double(n.imageSize / max(n.patchSize, 1))
    let tokens = Double(n.extraTokens) + grid * grid
    let skips = Double(n.depth / 2 + 1) * tokens * d
    let block = tokens * (4 * d + hidden) + Double(n.numHeads) * tokens * tokens
    let images = 6 * Double(n.channels * n.imageSize * n.imageSize)
    return 4 * (skips + 2 * block + images) * (guided ? 2 : 1)
  }
}
