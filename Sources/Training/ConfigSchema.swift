// Reading and writing `TrainConfig` as YAML. Every key is declared once here, with the key path it
// sets; an unknown key is an error that names the closest known key, and keys of the authors'
// files that do not apply to this implementation are accepted and listed in `ignoredKeys`.
import Foundation
import Yams

/// One YAML key bound to a property.
struct Field<Root> {
  let key: String
  let read: (Root) -> Node
  let write: (inout Root, Node, String) throws -> Void
}

extension Field {
  static func int(_ key: String, _ kp: WritableKeyPath<Root, Int>) -> Field {
    Field(key: key, read: { Node(String($0[keyPath: kp])) }) { r, n, path in r[keyPath: kp] = try n.intValue(path) }
  }
  static func uint(_ key: String, _ kp: WritableKeyPath<Root, UInt64>) -> Field {
    Field(key: key, read: { Node(String($0[keyPath: kp])) }) { r, n, path in
      let v = try n.intValue(path)
      guard v >= 0 else { throw ConfigError("\(path) must be ≥ 0") }
      r[keyPath: kp] = UInt64(v)
    }
  }
  static func double(_ key: String, _ kp: WritableKeyPath<Root, Double>) -> Field {
    Field(key: key, read: { Node(formatNumber($0[keyPath: kp])) }) { r, n, path in r[keyPath: kp] = try n.doubleValue(path) }
  }
  static func optionalDouble(_ key: String, _ kp: WritableKeyPath<Root, Double?>) -> Field {
    Field(key: key, read: { $0[keyPath: kp].map { Node(formatNumber($0)) } ?? Node("null", Tag(.null)) }) { r, n, path in
      r[keyPath: kp] = n.isNull ? nil : try n.doubleValue(path)
    }
  }
  static func bool(_ key: String, _ kp: WritableKeyPath<Root, Bool>) -> Field {
    Field(key: key, read: { Node($0[keyPath: kp] ? "true" : "false") }) { r, n, path in
      guard let b = n.bool else { throw ConfigError("\(path) must be true or false (got \(n.any))") }
      r[keyPath: kp] = b
    }
  }
  static func string(_ key: String, _ kp: WritableKeyPath<Root, String>) -> Field {
    Field(key: key, read: { Node($0[keyPath: kp], Tag(.str), .doubleQuoted) }) { r, n, path in
      guard let s = n.string else { throw ConfigError("\(path) must be a string") }
      r[keyPath: kp] = s
    }
  }
  static func doubles(_ key: String, _ kp: WritableKeyPath<Root, [Double]>) -> Field {
    Field(key: key, read: { Node($0[keyPath: kp].map { Node(formatNumber($0)) }, Tag(.seq), .flow) }) { r, n, path in
      guard let seq = n.sequence else { throw ConfigError("\(path) must be a list of numbers") }
      r[keyPath: kp] = try seq.enumerated().map { try $1.doubleValue("\(path)[\($0)]") }
    }
  }
  static func optionalInts(_ key: String, _ kp: WritableKeyPath<Root, [Int]?>) -> Field {
    Field(key: key, read: {
      $0[keyPath: kp].map { Node($0.map { Node(String($0)) }, Tag(.seq), .flow) } ?? Node("null", Tag(.null))
    }) { r, n, path in
      if n.isNull { r[keyPath: kp] = nil; return }
      guard let seq = n.sequence else { throw ConfigError("\(path) must be a list of integers or null") }
      r[keyPath: kp] = try seq.enumerated().map { try $1.intValue("\(path)[\($0)]") }
    }
  }
}

func formatNumber(_ v: Double) -> String {
  if v == v.rounded(), Swift.abs(v) < 1e15 { return String(format: "%.1f", v) }
  return "\(v)"
}

extension Node {
  var isNull: Bool { null != nil }
  var any: String { scalar?.string ?? "\(self)" }
  func intValue(_ path: String) throws -> Int {
    if let i = int { return i }
    if let d = float, d == d.rounded(), Swift.abs(d) < 1e15 { return Int(d) }
    throw ConfigError("\(path) must be an integer (got \(any))")
  }
  func doubleValue(_ path: String) throws -> Double {
    if let d = float { return d }
    if let i = int { return Double(i) }
    throw ConfigError("\(path) must be a number (got \(any))")
  }
}

/// The keys of a config file, by section.
enum ConfigSchema {
  static let top: [Field<TrainConfig>] = [
    .int("batch_size", \.batchSize), .double("lr", \.lr), .doubles("adam_betas", \.adamBetas),
    .double("weight_decay", \.weightDecay), .int("warmup_steps", \.warmupSteps),
    .double("ema_decay", \.emaDecay), .int("ema_update_every", \.emaUpdateEvery),
    .optionalDouble("clip_grad", \.clipGrad), .int("gradient_accumulate_every", \.gradientAccumulateEvery),
    .string("beta_schedule", \.betaSchedule), .int("timesteps", \.timesteps), .string("objective", \.objective),
    .string("loss_type", \.lossType), .int("sampling_timesteps", \.samplingTimesteps),
    .double("ddim_sampling_eta", \.ddimSamplingEta), .int("train_steps", \.trainSteps),
    .optionalDouble("train_seconds", \.trainSeconds), .int("save_and_sample_every", \.saveAndSampleEvery),
    .int("num_samples", \.numSamples), .int("log_every", \.logEvery), .uint("seed", \.seed),
    .string("pretrained_model_ckpt", \.pretrainedModelCkpt), .string("precision", \.precision),
    .string("device", \.device), .bool("compile", \.compile),
  ]
  static let dataset: [Field<DatasetSettings>] = [
    .string("NAME", \.name), .string("PATH", \.path), .string("SPLIT", \.split),
    .optionalInts("CLASSES", \.classes), .double("FRACTION", \.fraction), .uint("SUBSET_SEED", \.subsetSeed),
    .int("COUNT", \.count), .double("MASK_RATIO", \.maskRatio), .string("MASK_TYPE", \.maskType),
    .int("MASK_BLOCK_SIZE", \.maskBlockSize), .int("MASK_CROP_SIZE", \.maskCropSize),
    .int("IMG_SIZE", \.imgSize), .double("hflip_prob", \.hflipProb),
  ]
  static let network: [Field<NetworkSettings>] = [
    .int("img_size", \.imgSize), .int("patch_size", \.patchSize), .int("in_chans", \.inChans),
    .int("encoder_embed_dim", \.encoderEmbedDim), .int("encoder_depth", \.encoderDepth),
    .int("encoder_heads", \.encoderHeads), .double("mlp_ratio", \.mlpRatio), .bool("qkv_bias", \.qkvBias),
    .int("num_classes", \.numClasses), .bool("mlp_time_embed", \.mlpTimeEmbed),
    .bool("use_pos_embed", \.usePosEmbed),
  ]

  /// Keys of the authors' files that this implementation accepts and does not use (data-loader
  /// workers, logging, options fixed to their defaults here). `p2_loss_weight_gamma` must be 0.
  static let ignoredKeys: [String: Set<String>] = [
    "": ["results_folder", "num_workers", "shift", "loss_weight", "p2_loss_weight_gamma", "normalization",
         "clip_max", "clip_min", "warmup_lr", "define", "ckpt", "name", "debug", "wandb_project", "wandb_id",
         "overwrite", "config", "resume_from"],
    "dataset": ["TASK", "MEAN", "STD", "SHORT_SIDE_SIZE", "NORMALIZATION"],
    "network": ["name", "decoder_embed_dim", "decoder_depth", "decoder_heads", "use_final_conv", "use_checkpoint"],
  ]

  static var sections: [String: [String]] {
    ["": top.map(\.key) + ["dataset", "network"], "dataset": dataset.map(\.key), "network": network.map(\.key)]
  }
}

extension TrainConfig {
  /// Reads a YAML configuration (an authors' file or one of ours); unknown keys are errors.
  public init(yaml text: String, source: String = "config") throws {
    self.init()
    let root: Node?
    do { root = try Yams.compose(yaml: text) } catch {
      throw ConfigError("\(source) is not valid YAML: \(error)")
    }
    guard let root else { return }
    try apply(root, source: source)
    try validate()
  }

  /// Reads a YAML file.
  public init(contentsOf url: URL) throws {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
      throw ConfigError("cannot read the config file \(url.path): check the path")
    }
    try self.init(yaml: text, source: url.lastPathComponent)
  }

  /// Applies the keys present in `node` (a mapping) over the current values.
  public mutating func apply(_ node: Node, source: String = "config") throws {
    guard let map = node.mapping else { throw ConfigError("\(source): the top level must be a mapping of keys") }
    for (k, v) in map {
      guard let key = k.string else { continue }
      if key == "dataset" {
        try Self.applySection(v, to: &dataset, fields: ConfigSchema.dataset, section: "dataset", source: source)
      } else if key == "network" {
        try Self.applySection(v, to: &network, fields: ConfigSchema.network, section: "network", source: source)
      } else {
        try Self.applyKey(key, v, to: &self, fields: ConfigSchema.top, section: "", source: source)
      }
    }
    // The authors keep the image size in both blocks; one given alone sets the other.
    let keys = Set(map.keys.compactMap(\.string))
    if keys.contains("network"), let n = map["network"]?.mapping, let d = map["dataset"]?.mapping {
      if n["img_size"] != nil, d["IMG_SIZE"] == nil { dataset.imgSize = network.imgSize }
      if d["IMG_SIZE"] != nil, n["img_size"] == nil { network.imgSize = dataset.imgSize }
    } else if let n = map["network"]?.mapping, n["img_size"] != nil {
      dataset.imgSize = network.imgSize
    } else if let d = map["dataset"]?.mapping, d["IMG_SIZE"] != nil {
      network.imgSize = dataset.imgSize
    }
    if let g = map["p2_loss_weight_gamma"], (try? g.doubleValue("")) ?? 0 != 0 {
      throw ConfigError("\(source): p2_loss_weight_gamma other than 0 (P2 loss weighting) is not supported; set it to 0")
    }
  }

  static func applySection<R>(_ node: Node, to root: inout R, fields: [Field<R>], section: String, source: String) throws {
    guard let map = node.mapping else { throw ConfigError("\(source): \(section) must be a mapping of keys") }
    for (k, v) in map {
      guard let key = k.string else { continue }
      try applyKey(key, v, to: &root, fields: fields, section: section, source: source)
    }
  }

  static func applyKey<R>(_ key: String, _ value: Node, to root: inout R, fields: [Field<R>], section: String,
                          source: String) throws {
    let path = section.isEmpty ? key : "\(section).\(key)"
    if let field = fields.first(where: { $0.key == key }) {
      try field.write(&root, value, path)
    } else if ConfigSchema.ignoredKeys[section]?.contains(key) == true {
      return
    } else {
      let known = ConfigSchema.sections[section] ?? []
      let suggestion = closestKey(to: key, among: known).map { "; did you mean \(section.isEmpty ? $0 : "\(section).\($0)")?" } ?? ""
      throw ConfigError("\(source): unknown key \(path)\(suggestion)")
    }
  }

  /// The resolved configuration as YAML, in the authors' layout (what `--dry-run` prints and what a
  /// run directory keeps as `config.yaml`).
  public func yaml() -> String {
    func mapping<R>(_ root: R, _ fields: [Field<R>]) -> Node {
      Node(fields.map { (Node($0.key), $0.read(root)) }, Tag(.map), .block)
    }
    var pairs = ConfigSchema.top.map { (Node($0.key), $0.read(self)) }
    pairs.append((Node("dataset"), mapping(dataset, ConfigSchema.dataset)))
    pairs.append((Node("network"), mapping(network, ConfigSchema.network)))
    return (try? Yams.serialize(node: Node(pairs, Tag(.map), .block), sortKeys: false)) ?? ""
  }
}

/// The known key nearest to `key` by edit distance (case-insensitive), when it is close enough.
public func closestKey(to key: String, among known: [String]) -> String? {
  func distance(_ a: [Character], _ b: [Character]) -> Int {
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
      var prev = row[0]
      row[0] = i
      for j in 1...max(b.count, 1) where !b.isEmpty {
        let cur = row[j]
        row[j] = Swift.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
        prev = cur
      }
    }
    return row[b.count]
  }
  let lower = Array(key.lowercased())
  let scored = known.map { ($0, distance(lower, Array($0.lowercased()))) }.sorted { $0.1 < $1.1 }
  guard let best = scored.first, best.1 <= Swift.max(2, key.count / 2) else { return nil }
  return best.0
}
