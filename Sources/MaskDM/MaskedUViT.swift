// MaskedUViT (the authors' models/mask_uvit.py): a U-ViT encoder in pixel space. Patches are
// embedded, a sinusoidal time token (and a label token when class-conditional) is prepended, the
// learned position embedding is added to every token *before* masking, masked patch tokens are dropped
// (visible ones kept in index order), then depth//2 in-blocks, a mid-block and depth//2 out-blocks with
// long skips, LayerNorm and a Linear head to patch pixels in `(p1 p2 C)` layout.
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
  public func callAsFunction(_ x: Tensor, timesteps: Tensor, visible: Tensor? = nil, labels: Tensor? = nil) throws -> Tensor {
    let tokens = try encoder(x, timesteps: timesteps, visible: visible, labels: labels)  // (B, extras + L, D)
    let out = try head(tokens)
    let s = out.shape
    let patches = try out.slice(axis: 1, config.extraTokens..<s[1])  // (B, L, p*p*C)
    return visible == nil ? try unpatchify(patches, config: config) : patches
  }
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

  func callAsFunction(_ x: Tensor, timesteps: Tensor, visible: Tensor?, labels: Tensor?) throws -> Tensor {
    let c = config
    let b = x.shape[0]
    let d = c.embedDim
    // Patch embedding as a Linear over patches flattened in (C, p1, p2) order (= the strided conv).
    let w = try patchProj["weight"].reshaped([d, -1])  // (D, C*p*p)
    let patches = try patchify(x, patchSize: c.patchSize, channelsLast: false)  // (B, N, C*p*p)
    let rows = try patches.reshaped([-1, w.shape[1]]).astype(w.dtype)  // bf16 under mixed precision
    var tokens = try Tensor.addmm(patchProj["bias"], rows, w.transposed())
      .reshaped([b, c.numPatches, d])
    var time = try timestepEmbedding(timesteps, dim: d)  // (B, D)
    if let (l1, l2) = timeMLP { time = try l2(l1(time) * l1(time).sigmoid()) }
    var front = [try time.expandedDims(at: 1)]
    if c.numClasses > 0 {
      let label = try labels.map { try labelEmbedding["weight"].take($0, axis: 0) }
        ?? self["uncond_embed"].broadcast(to: [b, d])
      front.insert(try label.expandedDims(at: 1), at: 0)  // the authors prepend the label before the time token
    }
    tokens = try Tensor.concatenate(front + [tokens], axis: 1)  // (B, extras + N, D)
    if c.usePositionEmbedding { tokens = try tokens + self["encoder_pos_embed"] }
    if let visible {
      let extras = try Tensor.arange(c.extraTokens).expandedDims(at: 0).broadcast(to: [b, c.extraTokens])
      let keep = try Tensor.concatenate([extras, visible.astype(.int32) + Double(c.extraTokens)], axis: 1)  // (B, K)
      let k = keep.shape[1]
      tokens = try tokens.takeAlongAxis(keep.expandedDims(at: 2).broadcast(to: [b, k, d]), axis: 1)  // (B, K, D)
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

/// (B, C, H, W) -> (B, N, p*p*C) in `(p1 p2 C)` order, or `(C p1 p2)` order when not `channelsLast`.
public func patchify(_ x: Tensor, patchSize p: Int, channelsLast: Bool = true) throws -> Tensor {
  let s = x.shape
  let (b, c, h, w) = (s[0], s[1], s[2] / p, s[3] / p)
  let grid = try x.reshaped([b, c, h, p, w, p])  // B C h p1 w p2
  let order = channelsLast ? [0, 2, 4, 3, 5, 1] : [0, 2, 4, 1, 3, 5]
  return try grid.transposed(order).reshaped([b, h * w, p * p * c])
}

/// (B, N, p*p*C) in `(p1 p2 C)` order -> (B, C, H, W).
public func unpatchify(_ x: Tensor, config: ModelConfig) throws -> Tensor {
  let b = x.shape[0]
  let (g, p, c) = (config.grid, config.patchSize, config.channels)
  return try x.reshaped([b, g, g, p, p, c]).transposed([0, 5, 1, 3, 2, 4]).reshaped([b, c, g * p, g * p])
}
