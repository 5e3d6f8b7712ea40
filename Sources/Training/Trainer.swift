// The training loop shared by masked pre-training and fine-tuning: the same trainer, only the mask
// ratio and the initial weights differ (Sec. 3 of the paper). It owns the run directory while it
// runs, checkpoints atomically, resumes bit-identically and reports through typed events.
// In a data-parallel job every rank runs this loop on its shard of each batch (see TrainingStep);
// rank 0 alone owns the run directory: it writes the config, metrics, checkpoints, samples and
// summary, and emits the events. The other ranks only read (a checkpoint to resume from).
import Datasets
import Engine
import Foundation
import MaskDM
import NN

/// Trains one configuration in one run directory.
public final class Trainer {
  public let config: TrainConfig
  public let run: RunDirectory
  /// The data-parallel group (nil: this process alone).
  public let group: DistributedGroup?
  /// True on the process that writes files and reports (rank 0, or the only one).
  public var isRoot: Bool { (group?.rank ?? 0) == 0 }

  public init(config: TrainConfig, runDirectory: URL, group: DistributedGroup? = nil) throws {
    try config.validate()
    let world = group?.size ?? 1
    guard config.batchSize % (world * config.gradientAccumulateEvery) == 0 else {
      throw ConfigError("batch_size (\(config.batchSize)) must be divisible by the number of processes (\(world)) times gradient_accumulate_every (\(config.gradientAccumulateEvery)): every process trains on an equal share of each batch")
    }
    self.config = config
    self.run = RunDirectory(runDirectory)
    self.group = group
  }

  /// Trains until `train_steps` (or `train_seconds`) is reached. With `resume`, continues from the
  /// newest checkpoint; without, a directory that already holds one is refused.
  @discardableResult
  public func train(resume: Bool = false, events allEvents: @escaping (TrainingEvent) -> Void = { _ in }) throws -> RunSummary {
    let wallStart = Date()
    let root = isRoot
    let world = group?.size ?? 1
    let events: (TrainingEvent) -> Void = { if root { allEvents($0) } }
    var lock: RunLock? = nil
    if root {
      try run.create()
      lock = try run.lock()
    }
    defer { lock?.release() }

    let existing = run.latestCheckpoint
    if existing != nil, !resume {
      throw ConfigError("\(run.url.path) already holds a checkpoint; pass --resume to continue it or choose another directory")
    }
    if existing != nil, let old = try? String(contentsOf: run.config, encoding: .utf8), old != config.yaml() {
      // How long to train and how often to log, save and sample do not change the steps already taken
      // (the learning rate is warm-up then constant), so a run may be extended or logged differently.
      var started = try? TrainConfig(yaml: old, source: run.config.path)
      started?.trainSteps = config.trainSteps
      started?.logEvery = config.logEvery
      started?.saveAndSampleEvery = config.saveAndSampleEvery
      if started?.yaml() != config.yaml() {
        throw ConfigError("the configuration differs from the one \(run.url.path) was started with (config.yaml) in more "
                          + "than train_steps, log_every and save_and_sample_every; resume with the same configuration "
                          + "or use a new directory")
      }
    }
    if root { try writeAtomically(Data(config.yaml().utf8), to: run.config) }

    return try Engine.run {
      let device = try Engine.select(DeviceChoice(rawValue: config.device) ?? .auto)
      try Memory.resetPeak()
      // Set-up can fail on one rank alone (rank 0 prepares the data; a file may be unreadable on one
      // host): the ranks agree on success after each part, so none is left waiting in a collective.
      func together(_ what: String, _ body: () throws -> Void) throws {
        var failure: Error? = nil
        do { try body() } catch { failure = error }
        if let group, world > 1, try !group.allSucceeded(failure == nil), failure == nil {
          throw ConfigError("another process of the distributed job failed while \(what); its error is in its output")
        }
        if let failure { throw failure }
      }
      // Rank 0 prepares (and caches) the data first; the others then read the cache.
      var packed: PackedDataset? = nil
      let prepare = { packed = try resolveDataset(self.config, progress: { events(.preparingData(done: $0, total: $1)) }) }
      try together("preparing the data", root ? prepare : {})
      try together("reading the data", root ? {} : prepare)
      let dataset = packed!
      let modelConfig = try config.modelConfig()
      let model = try MaskedUViT(modelConfig, key: PRNGKey(seed: config.seed))
      let diffusion = try config.diffusion()

      var state = TrainingState()
      state.seed = config.seed
      state.device = device.rawValue
      var params = model.parameters()
      var ema = params
      var m = try params.mapValues { try Tensor.zeros($0.shape) }
      var v = m
      var resumed = false
      try together("loading the weights") {
        if let existing {
          let checkpoint = try Checkpoint.load(existing)
          (params, ema, m, v, state) = (checkpoint.model, checkpoint.ema, checkpoint.adamM, checkpoint.adamV, checkpoint.state)
          resumed = true
        } else if !config.pretrainedModelCkpt.isEmpty {
          let source = URL(fileURLWithPath: config.pretrainedModelCkpt)
          let report = try model.load(try initialWeights(from: source), strict: false)
          events(.initialized(from: source, missing: report.missing, unexpected: report.unexpected))
          params = model.parameters()
          ema = params
        }
      }
      let names = params.keys.sorted()
      try model.update(params)
      if let group, world > 1 {
        // Every rank must start from the same step: a rank that sees another checkpoint (a run
        // directory not on a shared file system) would silently train different weights.
        // Compared with rank 0's step, and agreed on by all, so that every rank stops (a sum of the
        // steps could match one rank's step times the world size while the steps differ).
        let same = try group.broadcastFromRoot(Double(state.step)) == Double(state.step)
        guard try group.allSucceeded(same) else {
          throw ConfigError("the \(world) processes start from different steps (this one: \(state.step)); the run directory \(run.url.path) must be the same shared directory for every process")
        }
      }

      let loader = try BatchLoader(
        dataset: dataset, batchSize: config.batchSize, seed: config.seed, flipProbability: config.dataset.hflipProb,
        subsetFraction: config.dataset.fraction < 1 ? config.dataset.fraction : nil, subsetSeed: config.dataset.subsetSeed,
        start: LoaderPosition(epoch: state.loaderEpoch, index: state.loaderIndex),
        shard: LoaderShard(rank: group?.rank ?? 0, count: world, groups: config.gradientAccumulateEvery))
      defer { loader.stop() }
      let step = try TrainingStep(model: model, diffusion: diffusion, config: config, names: names, mask: try config.maskSpec(),
                                  group: group)
      let emaSchedule = EMASchedule(decay: config.emaDecay, updateEvery: config.emaUpdateEvery)
      let adam = step.adam

      events(.started(step: state.step, totalSteps: config.trainSteps, resumed: resumed,
                      parameters: params.values.reduce(0) { $0 + $1.size }, device: device.rawValue, runDirectory: run.url))
      var lastCheckpoint: Int? = resumed ? state.step : nil
      var lossCurve: [[Double]] = run.readMetrics().compactMap { row in
        guard let s = row["step"] as? Int, let l = row["loss"] as? Double else { return nil }
        return s <= state.step ? [Double(s), l] : nil
      }
      var window: (images: Int, seconds: Double) = (0, 0)
      var warmedUp = false

      func checkpoint() throws {
        lastCheckpoint = state.step
        guard root else { return }
        let c = Checkpoint(
          model: Dictionary(uniqueKeysWithValues: zip(names, names.map { params[$0]! })), ema: ema, adamM: m, adamV: v, state: state)
        let url = try c.save(in: run)
        try run.appendMetrics(["event": "checkpoint", "step": state.step])
        events(.checkpoint(step: state.step, url: url))
      }

      func budgetLeft() -> Bool {
        guard state.step < config.trainSteps else { return false }
        if let limit = config.trainSeconds { return state.trainSeconds < limit }
        return true
      }

      while budgetLeft() {
        let batch = try loader.next()
        let started = DispatchTime.now().uptimeNanoseconds
        let images = try batch.pixels.withUnsafeBytes {
          try Tensor(bytes: $0, shape: [batch.count, batch.height, batch.width, batch.channels], dtype: .uint8)
        }
        let number = state.step + 1
        let lr = learningRate(base: config.lr, step: number, warmupSteps: config.warmupSteps)
        let decay = emaSchedule.action(count: state.emaUpdates)
        let scalars = try Tensor((adam.scalars(lr: lr, step: number) + [decay ?? 1]).map(Float.init))
        let key = try PRNGKey(seed: stepSeed(config.seed, number))
        let out = try step(.init(params: names.map { params[$0]! }, m: names.map { m[$0]! }, v: names.map { v[$0]! },
                                 ema: names.map { ema[$0]! }, images: images, key: key, scalars: scalars))
        try eval(out.params + out.m + out.v + out.ema + [out.loss])
        let loss = try out.loss.item()
        guard loss.isFinite else {
          throw TrainingError.nonFiniteLoss(step: number, lastCheckpoint: lastCheckpoint, runDirectory: run.url.path)
        }
        var seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        // A time budget must end every rank at the same step: all take rank 0's clock.
        if config.trainSeconds != nil, let group { seconds = try group.broadcastFromRoot(seconds) }
        for (i, name) in names.enumerated() {
          params[name] = out.params[i]
          m[name] = out.m[i]
          v[name] = out.v[i]
          if decay != nil { ema[name] = out.ema[i] }
        }
        state.step = number
        state.emaUpdates += 1
        state.loaderEpoch = loader.position.epoch
        state.loaderIndex = loader.position.index
        if warmedUp {
          state.trainSeconds += seconds
          state.deviceSeconds += seconds
          state.imagesSeen += batch.count * world
          window.images += batch.count * world
          window.seconds += seconds
        } else {
          state.warmupSeconds = (state.warmupSeconds ?? 0) + seconds
          warmedUp = true
        }
        state.lastLoss = loss

        if number % config.logEvery == 0 || number == config.trainSteps || !budgetLeft() {
          let rate = window.seconds > 0 ? Double(window.images) / window.seconds : 0
          window = (0, 0)
          let stepsLeft = Double(config.trainSteps - number)
          let perStep = state.trainSeconds / Double(max(number, 1))
          var eta = stepsLeft * perStep
          if let limit = config.trainSeconds { eta = min(eta, max(limit - state.trainSeconds, 0)) }
          lossCurve.append([Double(number), loss])
          if root {
            try run.appendMetrics(["event": "step", "step": number, "loss": loss, "lr": lr,
                                   "images_per_second": rate, "train_seconds": state.trainSeconds])
          }
          events(.step(StepReport(step: number, totalSteps: config.trainSteps, loss: loss, learningRate: lr,
                                  imagesPerSecond: rate, trainSeconds: state.trainSeconds, etaSeconds: eta,
                                  budgetSeconds: config.trainSeconds)))
        }
        if number % config.saveAndSampleEvery == 0 || !budgetLeft() {
          try checkpoint()
          if config.numSamples > 0, root {
            let url = try writeSampleGrid(model: model, diffusion: diffusion, ema: ema, restore: names.map { ($0, params[$0]!) },
                                          step: number)
            try run.appendMetrics(["event": "sample", "step": number, "path": url.lastPathComponent])
            events(.sample(step: number, url: url))
          }
        }
      }
      if lastCheckpoint != state.step { try checkpoint() }
      let summary = RunSummary(
        steps: state.step, finalLoss: state.lastLoss, trainSeconds: state.trainSeconds, deviceSeconds: state.deviceSeconds,
        wallSeconds: Date().timeIntervalSince(wallStart), imagesPerSecond: state.trainSeconds > 0 ? Double(state.imagesSeen) / state.trainSeconds : 0,
        warmupSeconds: state.warmupSeconds ?? 0, peakMemoryBytes: Memory.peak, device: device.rawValue, runDirectory: run.url.path, lossCurve: lossCurve,
        provenance: .current(device: device, group: group))
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      if root { try writeAtomically(try encoder.encode(summary), to: run.summary) }
      // Every rank leaves after rank 0's files are complete (a study then sees the same finished run).
      try group?.barrier()
      events(.finished(summary))
      return summary
    }
  }

  /// Samples `num_samples` images with the EMA weights and writes `samples/step-N.png`.
  func writeSampleGrid(model: MaskedUViT, diffusion: GaussianDiffusion, ema: Parameters, restore: [(String, Tensor)],
                       step: Int) throws -> URL {
    try model.update(ema)
    defer { try? model.update(Dictionary(uniqueKeysWithValues: restore)) }
    let c = config.network
    let images = try diffusion.sample(
      model: { x, t in try model(x, timesteps: t, visible: nil) }, shape: [config.numSamples, c.inChans, c.imgSize, c.imgSize],
      sampler: config.sampler(), key: PRNGKey(seed: config.seed &+ 0x5A4D_504C), progress: nil)
    let url = run.samples.appendingPathComponent(String(format: "step-%08d.png", step))
    try writeGrid(images, to: url)
    return url
  }
}

/// The key of step `step`: a pure function of the seed and the step, so a resumed run draws the same
/// timesteps, noise and masks as one that never stopped.
func stepSeed(_ seed: UInt64, _ step: Int) -> UInt64 {
  var z = seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15
  z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
  z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
  return z ^ (z >> 31)
}
