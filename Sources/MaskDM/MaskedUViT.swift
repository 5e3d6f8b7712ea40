// MaskedUViT (the authors' models/mask_uvit.py): a U-ViT encoder in pixel space. Patches are
// embedded, a sinusoidal time token (and a label token when class-conditional) is prepended, the
// learned position embedding is added to every token *before* masking, masked patch tokens are dropped
// (visible ones kept in index order), then depth//2 in-blocks, a mid-block and depth//2 out-blocks with
// long skips, LayerNorm and a Linear head to patch pixels in `(p1 p2 C)` layout. Here the masked
// patches are dropped first and only the visible ones embedded: the same tokens (embedding and position
// are per token), without work that scales with the masked part.
import Engine
import Foundation
import NN

public final class MaskedUViT: Module {
  public let config: ModelConfig
  let encoder: Encoder
  let head: Linear

  public init(_ config: ModelConfig, key: PRNGKey) throws {
    try config.validate()
    self.config = config
    let keys = try key.split(2)
    encoder = try Encoder(config, key: keys[0])
    head = try Linear(config.embedDim, config.patchSize * config.patchSize * config.channels, key: keys[1])
    super.init()
    addChild("encoder", encoder)
    addChild("encoder_to_output", head)
  }

  /// Predicts for images `x` (B, C, H, W) at `timesteps` (B,). With `visible` (B, Nvis) patch indices
  /// the masked tokens are dropped and the result is (B, Nvis, p*p*C); without, it is (B, C, H, W).
  /// `labels` (B,) are the classes of a class-conditional model (a negative label, or nil for all,
  /// takes the learned unconditional embedding); an unconditional model ignores them.
  public func callAsFunction(_ x: Tensor, timesteps: Tensor, visible: Tensor? = nil, labels: Tensor? = nil) throws -> Tensor {
    let patches = try patchify(x, patchSize: config.patchSize)  // (B, N, p*p*C)
    guard let visible else {
      return try unpatchify(predict(patches: patches, visible: nil, timesteps: timesteps, labels: labels), config: config)
    }
    return try predict(patches: gatherPatches(patches, visible), visible: visible, timesteps: timesteps, labels: labels)
  }

  /// Predicts patches from patches: `patches` (B, K, p*p*C) in `(p1 p2 C)` order are the images'
  /// patches at indices `visible` (B, K), or all N of them in order when `visible` is nil. Masked
  /// training feeds only the visible patches, so nothing is computed for the masked ones.
  public func predict(patches: Tensor, visible: Tensor?, timesteps: Tensor, labels: Tensor? = nil) throws -> Tensor {
    let tokens = try encoder(patches, visible: visible, timesteps: timesteps, labels: labels)  // (B, extras + K, D)
    let out = try head(tokens)
    return try out.slice(axis: 1, config.extraTokens..<out.shape[1])  // (B, K, p*p*C)
  }
}

/// The rows of `patches` (B, N, F) at `indices` (B, K), in the order given: (B, K, F).
public func gatherPatches(_ patches: Tensor, _ indices: Tensor) throws -> Tensor {
  let s = patches.shape
  let k = indices.shape[1]
  return try patches.takeAlongAxis(indices.astype(.int32).expandedDims(at: 2).broadcast(to: [s[0], k, s[2]]), axis: 1)
}

/// The encoder: embeddings, blocks, final norm (parameter prefix `encoder.`).
final class Encoder: Module {
  let config: ModelConfig
  let inBlocks: [TransformerBlock]
  let midBlock: TransformerBlock
  let outBlocks: [TransformerBlock]
  let norm: LayerNorm
  let timeMLP: (Linear, Linear)?
  /// `patch_embed.proj`: the patch embedding's conv weight (D, C, p, p) and bias.
  let patchProj = Module()
  /// `label_emb`: the class embedding table (class-conditional models only).
  let labelEmbedding = Module()

  init(_ c: ModelConfig, key: PRNGKey) throws {
    config = c
    let half = c.depth / 2
    let keys = try key.split(2 * half + 7)
    inBlocks = try (0..<half).map {
      try TransformerBlock(c.embedDim, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, key: keys[$0])
    }
    midBlock = try TransformerBlock(c.embedDim, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, key: keys[2 * half])
    outBlocks = try (0..<half).map {
      try TransformerBlock(c.embedDim, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, skip: true,
                           key: keys[half + $0])
    }
    norm = try LayerNorm(c.embedDim)
    timeMLP = c.mlpTimeEmbed
      ? (try Linear(c.embedDim, 4 * c.embedDim, key: keys[2 * half + 1]), try Linear(4 * c.embedDim, c.embedDim, key: keys[2 * half + 2]))
      : nil
    super.init()
    addChild("patch_embed", Module()).addChild("proj", patchProj)
    patchProj.setParameter("weight", try truncatedNormal([c.embedDim, c.channels, c.patchSize, c.patchSize], key: keys[2 * half + 3]))
    patchProj.setParameter("bias", try Tensor.zeros([c.embedDim]))
    if let (a, b) = timeMLP {
      let t = addChild("time_embed", Module())
      t.addChild("0", a)
      t.addChild("2", b)
    }
    if c.numClasses > 0 {
      addChild("label_emb", labelEmbedding)
      labelEmbedding.setParameter("weight", try Random.normal([c.numClasses, c.embedDim], key: keys[2 * half + 4]))
      setParameter("uncond_embed", try truncatedNormal([1, c.embedDim], key: keys[2 * half + 5]))
    }
    if c.usePositionEmbedding {
      setParameter("encoder_pos_embed", try truncatedNormal([1, c.extraTokens + c.numPatches, c.embedDim], key: keys[2 * half + 6]))
    }
    let ins = addChild("in_blocks", Module())
    for (i, b) in inBlocks.enumerated() { ins.addChild("\(i)", b) }
    addChild("mid_block", midBlock)
    let outs = addChild("out_blocks", Module())
    for (i, b) in outBlocks.enumerated() { outs.addChild("\(i)", b) }
    addChild("norm", norm)
  }

  /// The tokens (B, extras + K, D) after the last norm for patches (B, K, p*p*C) in `(p1 p2 C)` order
  /// at indices `visible` (B, K), or all patches when nil (see `MaskedUViT.predict`).
  func callAsFunction(_ patches: Tensor, visible: Tensor?, timesteps: Tensor, labels: Tensor?) throws -> Tensor {
    let c = config
    let (b, k, d) = (patches.shape[0], patches.shape[1], c.embedDim)
    // The authors' strided conv is a Linear over each patch: its weight (D, C, p1, p2) permuted to the
    // patches' (p1 p2 C) order.
    let w = try patchProj["weight"].transposed([0, 2, 3, 1]).reshaped([d, -1])  // (D, p*p*C)
    let rows = try patches.reshaped([-1, w.shape[1]]).astype(w.dtype)  // bf16 under mixed precision
    var tokens = try Tensor.linear(rows, weight: w, bias: patchProj["bias"]).reshaped([b, k, d])
    var time = try timestepEmbedding(timesteps, dim: d)  // (B, D)
    if let (l1, l2) = timeMLP { time = try l2(l1(time) * l1(time).sigmoid()) }
    var front = [try time.expandedDims(at: 1)]
    if c.numClasses > 0 {
      let uncond = try self["uncond_embed"].broadcast(to: [b, d])
      // A negative label takes the unconditional embedding (classifier-free guidance's dropped labels).
      let label = try labels.map { y -> Tensor in
        let y = try y.astype(.int32)
        let table = try labelEmbedding["weight"].take(y.clip(0, nil), axis: 0)
        return try Tensor.where(y.less(Tensor.scalar(0, dtype: .int32)).expandedDims(at: 1), uncond.astype(table.dtype), table)
      } ?? uncond
      front.insert(try label.expandedDims(at: 1), at: 0)  // the authors prepend the label before the time token
    }
    tokens = try Tensor.concatenate(front + [tokens], axis: 1)  // (B, extras + K, D)
    if c.usePositionEmbedding {
      // The authors add the embedding to every token, then drop the masked ones; the same as adding the
      // rows of the kept ones.
      let position = self["encoder_pos_embed"]  // (1, extras + N, D)
      if let visible {
        let extras = try Tensor.arange(c.extraTokens).expandedDims(at: 0).broadcast(to: [b, c.extraTokens])
        let keep = try Tensor.concatenate([extras, visible.astype(.int32) + Double(c.extraTokens)], axis: 1)
        tokens = try tokens + position.reshaped([c.extraTokens + c.numPatches, d]).take(keep, axis: 0)
      } else {
        tokens = try tokens + position
      }
    }
    var skips: [Tensor] = []
    for block in inBlocks {
      tokens = try block(tokens)
      skips.append(tokens)
    }
    tokens = try midBlock(tokens)
    for block in outBlocks { tokens = try block(tokens, skip: skips.removeLast()) }
    return try norm(tokens)
  }
}

/// `[cos(t f), sin(t f)]` with `f = exp(-ln(10000) * arange(half) / half)` (cos first, as the authors).
public func timestepEmbedding(_ timesteps: Tensor, dim: Int) throws -> Tensor {
  let half = dim / 2
  let freqs = try (Tensor.arange(0, Double(half), dtype: .float32) * (-Foundation.log(10000.0) / Double(half))).exp()
  let args = try timesteps.astype(.float32).expandedDims(at: 1) * freqs.expandedDims(at: 0)  // (B, half)
  var parts = [try args.cos(), try args.sin()]
  if dim % 2 == 1 { parts.append(try Tensor.zeros([timesteps.shape[0], 1])) }
  return try Tensor.concatenate(parts, axis: 1)
}

/// (B, C, H, W) -> (B, N, p*p*C) in `(p1 p2 C)` order, patches in row-major order; from (B, H, W, C)
/// when `channelsLastInput`.
public func patchify(_ x: Tensor, patchSize p: Int, channelsLastInput: Bool = false) throws -> Tensor {
  let s = x.shape
  guard s.count == 4, s[channelsLastInput ? 1 : 2] % p == 0, s[channelsLastInput ? 2 : 3] % p == 0 else {
    throw ModelError("patchify takes images \(channelsLastInput ? "(B, H, W, C)" : "(B, C, H, W)") with sides divisible by the patch size \(p); got shape \(s)")
  }
  if channelsLastInput {
    let (b, h, w, c) = (s[0], s[1] / p, s[2] / p, s[3])
    return try x.reshaped([b, h, p, w, p, c]).transposed([0, 1, 3, 2, 4, 5]).reshaped([b, h * w, p * p * c])
  }
  let (b, c, h, w) = (s[0], s[1], s[2] / p, s[3] / p)
  return try x.reshaped([b, c, h, p, w, p]).transposed([0, 2, 4, 3, 5, 1]).reshaped([b, h * w, p * p * c])
}

/// (B, N, p*p*C) in `(p1 p2 C)` order -> (B, C, H, W).
public func unpatchify(_ x: Tensor, config: ModelConfig) throws -> Tensor {
  let b = x.shape[0]
  let (g, p, c) = (config.grid, config.patchSize, config.channels)
  return try x.reshaped([b, g, g, p, p, c]).transposed([0, 5, 1, 3, 2, 4]).reshaped([b, c, g * p, g * p])
}
