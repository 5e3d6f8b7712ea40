// Sizes checked before anything is allocated. A model of `encoder_embed_dim: 100000` asks MLX for
// terabytes (which crashed it), and one of 10^9 overflows MLX's 32-bit dimensions ("negative
// dimensions"). So `validate()` bounds every dimension the model and a batch will have, and training
// compares a lower bound of the memory it needs — the parameter state, which is certain, and the
// activations a backward pass must keep at the least — with the machine's physical memory. The bound
// errs low, so a configuration that fits is never refused; one that is refused cannot run.
import Foundation
import MaskDM

/// The memory a training configuration needs at the least, in bytes, by part.
public struct MemoryEstimate: Equatable, Sendable {
  /// The model's parameters (exactly: the MaskedUViT's layers for this `network:` block).
  public var parameters: Double
  /// Weights, gradients, AdamW's two moments and the EMA copy: five float32 values per parameter.
  public var parameterStateBytes: Double
  /// Activations of one micro-batch that the backward pass keeps, counted low (no attention
  /// probabilities, no workspace): per block its input, both norms, q/k/v, the attention output and
  /// the MLP's hidden layer before and after GELU.
  public var activationBytes: Double
  /// The sum.
  public var totalBytes: Double { parameterStateBytes + activationBytes }
}

/// The largest dimension MLX arrays have (their shapes are 32-bit signed integers).
public let maximumDimension = Double(Int32.max)

extension ModelConfig {
  /// The MLP's hidden width, as the blocks compute it (`Int(D * mlp_ratio)`), in floating point so
  /// that no setting can overflow it.
  var hiddenWidth: Double { (Double(embedDim) * mlpRatio).rounded(.towardZero) }

  /// Parameters of the MaskedUViT this block describes (see MaskedUViT.swift and Attention.swift).
  public var parameterEstimate: Double {
    let d = Double(embedDim), h = hiddenWidth, p2c = Double(patchSize) * Double(patchSize) * Double(channels)
    let half = Double(depth / 2), blocks = 2 * half + 1
    let block = 4 * d + 3 * d * d + (qkvBias ? 2 * d : 0) + d * d + d + d * h + h + h * d + d  // q and v biases
    var total = blocks * block + half * (2 * d * d + d)  // blocks, and the out-blocks' skip layers
    total += 2 * d  // final norm
    total += d * p2c + d  // patch embedding
    total += d * p2c + p2c  // head
    if mlpTimeEmbed { total += d * 4 * d + 4 * d + 4 * d * d + d }
    if numClasses > 0 { total += Double(numClasses) * d + d }
    let grid = Double(imageSize / max(patchSize, 1))
    if usePositionEmbedding { total += (Double(extraTokens) + grid * grid) * d }
    return total
  }
}

extension TrainConfig {
  /// The configuration's memory needs, counted low (see `MemoryEstimate`).
  public var memoryEstimate: MemoryEstimate {
    let n = network
    let parameters = n.parameterEstimate
    let d = Double(n.embedDim), h = n.hiddenWidth
    let grid = Double(n.imageSize / max(n.patchSize, 1))
    let patches = grid * grid
    let visible = isMasked ? (patches * (1 - dataset.maskRatio)).rounded(.up) : patches
    let tokens = Double(n.extraTokens) + visible
    let blocks = Double(2 * (n.depth / 2) + 1)
    let microBatch = Double(batchSize / max(gradientAccumulateEvery, 1))
    let perBlock = tokens * (7 * d + 2 * h)
    // bfloat16 mixed precision keeps the matmuls' activations in 2 bytes.
    let activationSize: Double = precision == .bf16 ? 2 : 4
    return MemoryEstimate(parameters: parameters, parameterStateBytes: 5 * 4 * parameters,
                          activationBytes: activationSize * microBatch * blocks * perBlock)
  }

  /// Every dimension the model and a batch will have must fit MLX's 32-bit shapes; the error names
  /// the key. Checked by `validate()`, before anything is built.
  func checkDimensions() throws {
    let n = network
    let d = Double(n.embedDim)
    let grid = Double(n.imageSize) / Double(n.patchSize)
    let sizes: [(String, Double, String)] = [
      ("network.encoder_embed_dim", 3 * d, "its q/k/v projection is 3 x encoder_embed_dim wide"),
      ("network.mlp_ratio", n.hiddenWidth, "the MLP is encoder_embed_dim x mlp_ratio wide"),
      ("network.img_size", grid * grid + Double(n.extraTokens), "an image is (img_size / patch_size)^2 tokens"),
      ("network.patch_size", Double(n.patchSize) * Double(n.patchSize) * Double(n.channels) + 2 * d,
       "a patch is patch_size^2 x in_chans values"),
      ("network.num_classes", Double(n.numClasses), "the label embedding has a row per class"),
      ("batch_size", Double(batchSize) * (grid * grid + Double(n.extraTokens)), "a batch is batch_size x tokens rows"),
    ]
    for (key, size, why) in sizes where !(size <= maximumDimension) {
      throw ConfigError("\(key) is too large: \(why), \(formatCount(size)) here, beyond the \(Int32.max) that an array dimension can hold")
    }
  }

  /// Refuses a configuration whose parameters and activations cannot fit in `limit` bytes (by
  /// default the machine's physical memory), before the model is built.
  public func checkMemory(limit: Double = Double(ProcessInfo.processInfo.physicalMemory)) throws {
    let e = memoryEstimate
    guard e.totalBytes > limit else { return }
    throw ConfigError(
      "this configuration needs at least \(gigabytes(e.totalBytes)) of memory, more than the \(gigabytes(limit)) of this machine's physical memory: "
        + "\(formatCount(e.parameters)) parameters take \(gigabytes(e.parameterStateBytes)) (weights, gradients, AdamW moments and EMA) "
        + "and a batch of \(batchSize / max(gradientAccumulateEvery, 1)) at least \(gigabytes(e.activationBytes)) of activations; "
        + "lower network.encoder_embed_dim or network.encoder_depth, or batch_size (or raise gradient_accumulate_every)")
  }
}

private func gigabytes(_ bytes: Double) -> String {
  bytes >= 1e12 ? String(format: "%.3g TB", bytes / 1e12) : String(format: "%.3g GB", bytes / 1e9)
}

private func formatCount(_ v: Double) -> String {
  v < 1e9 ? String(Int(v)) : String(format: "%.3g", v)
}
