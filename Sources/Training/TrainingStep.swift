// One optimisation step as a pure function of tensors — state in, state out — so that MLX can trace
// it once and replay it fused (Algorithm 1 of the paper: sample t, noise and a mask, take the MDSM
// loss on the visible patches, or DSM on whole images when the mask ratio is 0; then AdamW and EMA).
//
// Data parallelism: each of W ranks gets B/W images of every global batch of B. The timesteps, noise
// and masks are drawn for the whole global (micro-)batch from the step's key, and each rank takes the
// rows of its images, so W processes see exactly the examples one process would. Gradients (and the
// loss) are averaged over ranks with one all_sum inside the traced step, before clipping and AdamW,
// so every rank applies the same update.
//
// Mixed precision (`precision: bf16`): the float32 master weights are cast to bfloat16 inside the
// loss (LayerNorm parameters stay float32), so matmuls run in bfloat16 and the gradients arrive in
// float32 through the cast; LayerNorm, the attention softmax and the loss compute in float32.
import Engine
import Foundation
import MaskDM
import NN

/// Builds and runs the training step of one run.
final class TrainingStep {
  let model: MaskedUViT
  let diffusion: GaussianDiffusion
  let config: TrainConfig
  let names: [String]
  let adam: AdamW
  let mask: MaskSpec?
  let grid: Int
  /// The data-parallel group; nil trains alone.
  let group: DistributedGroup?
  var rank: Int { group?.rank ?? 0 }
  var worldSize: Int { group?.size ?? 1 }
  private var compiled: CompiledFunction?

  init(model: MaskedUViT, diffusion: GaussianDiffusion, config: TrainConfig, names: [String], mask: MaskSpec?,
       group: DistributedGroup? = nil) throws {
    self.group = group
    self.model = model
    self.diffusion = diffusion
    self.config = config
    self.names = names
    self.mask = mask
    grid = config.network.imageSize / config.network.patchSize
    adam = AdamW(beta1: config.adamBetas[0], beta2: config.adamBetas[1], weightDecay: config.weightDecay)
    if config.compile {
      compiled = try CompiledFunction { [unowned self] in try self.body($0) }
    }
  }

  /// Runs one step on this rank's `images` (B/W, H, W, C) uint8 rows of the global batch (see
  /// `BatchLoader`'s shard) and, for a class-conditional model, their `labels` (B/W,) int32. `scalars` are AdamW's per-step scalars (`AdamW.scalars`) and the EMA decay,
  /// as float32. With `updateEMA` false the EMA weights stay as they were (between EMA updates).
  /// Returns the new state, the loss and the gradients' global norm (before clipping), not yet evaluated.
  func callAsFunction(_ state: TrainState, images: Tensor, labels: Tensor? = nil, key: PRNGKey, scalars: Tensor,
                      updateEMA: Bool = true) throws -> (state: TrainState, loss: Tensor, gradNorm: Tensor) {
    let flat = state.all + [images, key.tensor, scalars] + (labels.map { [$0] } ?? [])
    let out = try compiled.map { try $0(flat) } ?? body(flat)
    let n = names.count
    var next = state
    next.params = Array(out[0..<n])
    next.m = Array(out[n..<2 * n])
    next.v = Array(out[2 * n..<3 * n])
    if updateEMA { next.ema = Array(out[3 * n..<4 * n]) }
    return (next, out[4 * n], out[4 * n + 1])
  }

  /// The traced function: `[params, m, v, ema, images, key, scalars, labels?] -> [params, m, v, ema, loss, gradient norm]`.
  func body(_ flat: [Tensor]) throws -> [Tensor] {
    let n = names.count
    let params = Array(flat[0..<n]), m = Array(flat[n..<2 * n]), v = Array(flat[2 * n..<3 * n])
    let ema = Array(flat[3 * n..<4 * n])
    let images = flat[4 * n], key = PRNGKey(flat[4 * n + 1]), scalars = flat[4 * n + 2]
    let labels = flat.count > 4 * n + 3 ? flat[4 * n + 3] : nil

    let micro = config.gradientAccumulateEvery
    let batch = images.shape[0]
    let keys = try key.split(micro)
    var loss = try Tensor.scalar(0)
    var grads: [Tensor]? = nil
    for k in 0..<micro {
      let rows = (k * batch / micro)..<((k + 1) * batch / micro)
      let part = micro == 1 ? images : try images.slice(axis: 0, rows)
      let partLabels = micro == 1 ? labels : try labels.map { try $0.slice(axis: 0, rows) }
      let (values, g) = try lossAndGradients(params, images: part, labels: partLabels, key: keys[k])
      loss = try loss + values / Double(micro)
      grads = try grads.map { try zip($0, g).map { try $0 + $1 / Double(micro) } } ?? (micro == 1 ? g : g.map { try $0 / Double(micro) })
    }
    var gradients = grads!
    if let group, group.size > 1 {
      // Equal shards: the mean of the ranks' mean losses (and gradients) is the global batch's.
      let summed = try group.allSum([loss] + gradients)
      loss = try summed[0] / Double(group.size)
      gradients = try summed[1...].map { try $0 / Double(group.size) }
    }
    // The norm is an output for the log; a step whose log does not read it never computes it.
    let norm: Tensor
    if let maxNorm = config.clipGrad {
      (gradients, norm) = try clipGlobalNorm(gradients, maxNorm: maxNorm)
    } else {
      norm = try Tensor.stack(gradients.map { try $0.astype(.float32).square().sum() }).sum().sqrt()
    }

    var newParams: [Tensor] = [], newM: [Tensor] = [], newV: [Tensor] = [], newEMA: [Tensor] = []
    for i in 0..<n {
      let (p, m1, v1, e1) = try adam.updateWithEMA(parameter: params[i], gradient: gradients[i], m: m[i], v: v[i],
                                                   ema: ema[i], scalars: scalars, decay: AdamW.decays(names[i]))
      newParams.append(p)
      newM.append(m1)
      newV.append(v1)
      newEMA.append(e1)
    }
    return newParams + newM + newV + newEMA + [loss, norm]
  }

  /// The loss of one micro-batch and its gradients with respect to the parameters.
  func lossAndGradients(_ params: [Tensor], images: Tensor, labels: Tensor? = nil, key: PRNGKey) throws -> (Tensor, [Tensor]) {
    let (values, grads) = try valueAndGrad(params + [images], argnums: Array(params.indices)) { [unowned self] args in
      [try self.loss(params: Array(args[0..<params.count]), images: args[params.count], labels: labels, key: key)]
    }
    return (values[0], grads)
  }

  /// The diffusion loss of this rank's images (and labels) of a (micro-)batch at parameters `params`.
  func loss(params: [Tensor], images: Tensor, labels: Tensor? = nil, key: PRNGKey) throws -> Tensor {
    let compute = config.precision == .bf16
      ? try zip(names, params).map { try Self.keepsFloat32($0) ? $1 : $1.astype(.bfloat16) } : params
    try model.update(Parameters(uniqueKeysWithValues: zip(names, compute)))
    let b = images.shape[0]
    let global = b * worldSize
    let rows = (rank * b)..<((rank + 1) * b)
    let keys = try key.split(3)
    // Drawn for the global batch, then this rank's rows: W shards see what one process would.
    func mine(_ t: Tensor) throws -> Tensor { worldSize == 1 ? t : try t.slice(axis: 0, rows) }
    let t = try mine(Random.randint([global], low: 0, high: diffusion.timesteps, key: keys[0]))
    let y = try conditioning(labels, global: global, key: key, mine: mine)
    // (B, H, W, C) uint8 -> [-1, 1]
    func scaled(_ x: Tensor) throws -> Tensor { try x.astype(.float32) / 127.5 - 1 }
    guard let mask else {
      let x0 = try scaled(images).transposed([0, 3, 1, 2])  // (B, C, H, W)
      let noise = try mine(Random.normal([global] + Array(x0.shape.dropFirst()), key: keys[1]))
      return try diffusion.loss(model: { [unowned self] xt, t, _ in try self.model(xt, timesteps: t, labels: y) },
                                x0: x0, t: t, noise: noise, visible: nil)
    }
    // MDSM: only the visible patches are cut out, scaled, noised and seen by the model.
    let visible = try mine(sampleVisible(mask, grid: grid, batch: global, key: keys[2]))  // (B, K)
    let x0 = try scaled(gatherPatches(patchify(images, patchSize: config.network.patchSize, channelsLastInput: true),
                                      visible))  // (B, K, p*p*C)
    let noise = try mine(Random.normal([global] + Array(x0.shape.dropFirst()), key: keys[1]))
    return try diffusion.loss(
      model: { [unowned self] xt, t, vis in try self.model.predict(patches: xt, visible: vis, timesteps: t, labels: y) },
      x0: x0, t: t, noise: noise, visible: visible)
  }

  /// The labels the model sees: each replaced by -1 (the unconditional embedding) with probability
  /// `p_uncond`, drawn for the global batch like the noise (so W ranks drop what one process would).
  /// Drawn from a fourth key of the step's, so that the timesteps, noise and masks stay those of
  /// `key.split(3)`. Nil for an unconditional model.
  func conditioning(_ labels: Tensor?, global: Int, key: PRNGKey, mine: (Tensor) throws -> Tensor) throws -> Tensor? {
    guard let labels, config.network.numClasses > 0 else { return nil }
    let y = try labels.astype(.int32)
    guard config.pUncond > 0 else { return y }
    let drop = try mine(Random.bernoulli([global], p: config.pUncond, key: key.split(4)[3]))
    return try Tensor.where(drop, Tensor.full(y.shape, -1, dtype: .int32), y)
  }

  /// Parameters that stay float32 under mixed precision: LayerNorm weights and biases.
  static func keepsFloat32(_ name: String) -> Bool {
    name.split(separator: ".").contains { $0.hasPrefix("norm") }
  }
}
