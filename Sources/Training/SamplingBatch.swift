// How many images one sampling batch holds when the user does not say: sized to the device. On the
// CPU the products are already large at a few dozen images (a batch of 32 s32 images is a 2080-row
// product) and throughput is flat from there, so the batch stays small and progress comes often; a
// GPU is filled only by much larger batches, as many as its memory holds with room to spare.
import Engine
import MaskDM

/// The default sampling batch of a model on a device.
public enum SamplingBatch {
  /// The CPU's batch (docs/sampling.md has img/s against the batch size).
  public static let cpu = 64
  /// A GPU's batch is the largest power of two from `cpu` up to this.
  public static let gpuMaximum = 1024
  /// The share of MLX's memory limit a GPU batch's working set may take (the weights, MLX's cache
  /// and the previous batch's images live beside it).
  public static let gpuMemoryShare = 0.25

  /// The batch for `network` on `device`, given the bytes MLX may allocate (`Memory.limit`).
  public static func automatic(for network: ModelConfig, device: Device, memoryLimit: Int, guided: Bool) -> Int {
    guard device == .gpu else { return cpu }
    let budget = Double(memoryLimit) * gpuMemoryShare
    var batch = cpu
    while batch * 2 <= gpuMaximum, Double(batch * 2) * workingSetBytes(network, guided: guided) <= budget { batch *= 2 }
    return batch
  }

  /// Bytes one image's network evaluation holds at its peak, counted high: the long skip
  /// connections of the in-blocks, one block's q/k/v, attention scores and MLP hidden layer, and the
  /// sampler's few images, in float32; doubled with guidance (each step evaluates the batch twice).
  public static func workingSetBytes(_ n: ModelConfig, guided: Bool) -> Double {
    let d = Double(n.embedDim), hidden = (Double(n.embedDim) * n.mlpRatio).rounded(.up)
    let grid = Double(n.imageSize / max(n.patchSize, 1))
    let tokens = Double(n.extraTokens) + grid * grid
    let skips = Double(n.depth / 2 + 1) * tokens * d
    let block = tokens * (4 * d + hidden) + Double(n.numHeads) * tokens * tokens
    let images = 6 * Double(n.channels * n.imageSize * n.imageSize)
    return 4 * (skips + 2 * block + images) * (guided ? 2 : 1)
  }
}
