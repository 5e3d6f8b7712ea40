// Reading and writing `TrainConfig` as YAML. Every key is declared once here, with the key path it
// sets; an unknown key is an error that names the closest known key, and keys of the authors'
// files that do not apply to this implementation are accepted and listed in `ignoredKeys`.
import Engine
import Foundation
import MaskDM
import Yams

/// One YAML key bound to a property of the configuration.
struct Field {
  let key: String
  let read: (TrainConfig) -> Node
  let write: (inout TrainConfig, Node, String) throws -> Void
  /// True for true/false keys (what an ablation's REMOVE can switch off).
  var isFlag = false
  /// When the key is written by `yaml()` (nil: always). A key added later that is written only when
  /// it matters keeps the YAML of configurations that do not use it as it was: run directories'
  /// config.yaml files, and the first identity encoding of studies, which hashed this YAML and which
  /// the migration of older study directories still computes (Studies' IdentityMigration.swift).
  var isWritten: ((TrainConfig) -> Bool)? = nil

  /// This field, written only when `condition` holds.
  func written(when condition: @escaping (TrainConfig) -> Bool) -> Field {
    var f = self
    f.isWritten = condition
    return f
  }
}

/// A setting chosen among named strategies, spelled as the authors' files spell it.
public protocol ConfigChoice: CaseIterable, Equatable {
  /// The spelling in a config file.
  var configName: String { get }
}

extension ConfigChoice where Self: RawRepresentable, RawValue == String {
  public var configName: String { rawValue }
}

extension ConfigChoice {
  /// The case spelled `text`; otherwise an error naming the key, the value and the choices.
  public static func parse(_ text: String, key: String) throws -> Self {
    if let c = allCases.first(where: { $0.configName == text.lowercased() }) { return c }
    let choices = allCases.map(\.configName)
    throw ConfigError("\(key) must be one of \(choices.joined(separator: ", ")) (got \(text))")
  }
}

extension BetaSchedule: ConfigChoice {}
extension LossKind: ConfigChoice {}
extension Precision: ConfigChoice {}
extension DeviceChoice: ConfigChoice {}
extension MaskType: ConfigChoice {}
extension Objective: ConfigChoice {
  /// The authors' names: what `gaussian_ddpm.py` compares `objective` with.
  public var configName: String {
    switch self {
    case .eps: return "pred_noise"
    case .x0: return "pred_x0"
    case .v: return "pred_v"
    }
  }
}

extension Field {
  typealias Path<V> = WritableKeyPath<TrainConfig, V>

  static func int(_ key: String, _ kp: Path<Int>) -> Field {
    Field(key: key, read: { Node(String($0[keyPath: kp])) }) { r, n, path in r[keyPath: kp] = try n.intValue(path) }
  }
  static func uint(_ key: String, _ kp: Path<UInt64>) -> Field {
    Field(key: key, read: { Node(String($0[keyPath: kp])) }) { r, n, path in
      let v = try n.intValue(path)
      guard v >= 0 else { throw ConfigError("\(path) must be ≥ 0") }
      r[keyPath: kp] = UInt64(v)
    }
  }
  static func double(_ key: String, _ kp: Path<Double>) -> Field {
    Field(key: key, read: { Node(formatNumber($0[keyPath: kp])) }) { r, n, path in r[keyPath: kp] = try n.doubleValue(path) }
  }
  static func optionalDouble(_ key: String, _ kp: Path<Double?>) -> Field {
    Field(key: key, read: { $0[keyPath: kp].map { Node(formatNumber($0)) } ?? Node("null", Tag(.null)) }) { r, n, path in
      r[keyPath: kp] = n.isNull ? nil : try n.doubleValue(path)
    }
  }
  /// A whole number or null, left out of the written YAML while null.
  static func optionalInt(_ key: String, _ kp: Path<Int?>) -> Field {
    Field(key: key, read: { $0[keyPath: kp].map { Node(String($0)) } ?? Node("null", Tag(.null)) }) { r, n, path in
      r[keyPath: kp] = n.isNull ? nil : try n.intValue(path)
    }.written { $0[keyPath: kp] != nil }
  }
  static func bool(_ key: String, _ kp: Path<Bool>) -> Field {
    Field(key: key, read: { Node($0[keyPath: kp] ? "true" : "false") }, write: { r, n, path in
      guard let b = n.bool else { throw ConfigError("\(path) must be true or false (got \(n.described))") }
      r[keyPath: kp] = b
    }, isFlag: true)
  }
  static func string(_ key: String, _ kp: Path<String>) -> Field {
    Field(key: key, read: { quoted($0[keyPath: kp]) }) { r, n, path in
      guard let s = n.string else { throw ConfigError("\(path) must be a string") }
      r[keyPath: kp] = s
    }
  }
  static func choice<V: ConfigChoice>(_ key: String, _ kp: Path<V>) -> Field {
    Field(key: key, read: { quoted($0[keyPath: kp].configName) }) { r, n, path in
      guard let s = n.string else { throw ConfigError("\(path) must be a string") }
      r[keyPath: kp] = try V.parse(s, key: path)
    }
  }
  static func doubles(_ key: String, _ kp: Path<[Double]>) -> Field {
    Field(key: key, read: { Node($0[keyPath: kp].map { Node(formatNumber($0)) }, Tag(.seq), .flow) }) { r, n, path in
      guard let seq = n.sequence else { throw ConfigError("\(path) must be a list of numbers") }
      r[keyPath: kp] = try seq.enumerated().map { try $1.doubleValue("\(path)[\($0)]") }
    }
  }
  static func optionalInts(_ key: String, _ kp: Path<[Int]?>) -> Field {
    Field(key: key, read: {
      $0[keyPath: kp].map { Node($0.map { Node(String($0)) }, Tag(.seq), .flow) } ?? Node("null", Tag(.null))
    }) { r, n, path in
      if n.isNull { r[keyPath: kp] = nil; return }
      guard let seq = n.sequence else { throw ConfigError("\(path) must be a list of integers or null (got \(n.described))") }
      r[keyPath: kp] = try seq.enumerated().map { try $1.intValue("\(path)[\($0)]") }
    }
  }
  /// The authors' class count: -1 (or 0) is unconditional, which the model writes as 0.
  static func classCount(_ key: String, _ kp: Path<Int>) -> Field {
    Field(key: key, read: { Node(String($0[keyPath: kp] > 0 ? $0[keyPath: kp] : -1)) }) { r, n, path in
      let v = try n.intValue(path)
      guard v >= -1 else { throw ConfigError("\(path) must be a number of classes, or -1 for unconditional (got \(v))") }
      r[keyPath: kp] = max(v, 0)
    }
  }
  /// `network.name`: the model family. Only the MaskedUViT (`maskdm`) is built here.
  static func modelName(_ key: String) -> Field {
    Field(key: key, read: { _ in quoted("maskdm") }) { _, n, path in
      guard let s = n.string else { throw ConfigError("\(path) must be a string") }
      switch s.lowercased() {
      case "maskdm": return
      case "mask_dwt":
        throw ConfigError("\(path) mask_dwt (the authors' wavelet variant) is a model this tool does not build; use maskdm")
      default: throw ConfigError("\(path) must be maskdm, the only model this tool builds (got \(s))")
      }
    }
  }
}

extension Field {
  /// The authors' MASK_TYPE: the kind of `dataset.mask`, which keeps its size when the kind stays.
  static let maskType = Field(key: "MASK_TYPE", read: { quoted($0.dataset.mask.type.configName) }) { r, n, path in
    guard let s = n.string else { throw ConfigError("\(path) must be a string") }
    r.dataset.mask = r.dataset.mask.withType(try MaskType.parse(s, key: path))
  }

  /// The authors' MASK_BLOCK_SIZE or MASK_CROP_SIZE: the size of `dataset.mask` when it is of kind
  /// `type` (-1: none); written -1 for the other kinds, and ignored for them when read (the authors'
  /// files give both sizes whatever the kind).
  static func maskSize(_ key: String, of type: MaskType) -> Field {
    Field(key: key, read: { Node(String($0.dataset.mask.size(of: type) ?? -1)) }) { r, n, path in
      let v = try n.intValue(path)
      guard r.dataset.mask.type == type else { return }
      r.dataset.mask = MaskKind(type: type, size: v > 0 ? v : nil)
    }
  }
}

private func quoted(_ text: String) -> Node { Node(text, Tag(.str), .doubleQuoted) }

func formatNumber(_ v: Double) -> String {
  if v == v.rounded(), Swift.abs(v) < 1e15 { return String(format: "%.1f", v) }
  return "\(v)"
}

extension Node {
  var isNull: Bool { null != nil }
  /// The value as written (a scalar's text, or the node in flow YAML), for messages.
  var any: String {
    scalar?.string ?? ((try? Yams.serialize(node: self)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
  }
  /// The value for an error message, on one line: a scalar's text, or the node in flow style
  /// (`[1, {a: 2}]`), cut at 60 characters.
  var described: String {
    func flow(_ n: Node) -> String {
      switch n {
      case let .scalar(s): return s.string
      case let .sequence(items): return "[" + items.map(flow).joined(separator: ", ") + "]"
      case let .mapping(pairs): return "{" + pairs.map { "\(flow($0.key)): \(flow($0.value))" }.joined(separator: ", ") + "}"
      }
    }
    let text = flow(self)
    return text.count > 60 ? String(text.prefix(57)) + "..." : text
  }
  func intValue(_ path: String) throws -> Int {
    if let i = int { return i }
    if let d = float, d == d.rounded(), Swift.abs(d) < 1e15 { return Int(d) }
    throw ConfigError("\(path) must be an integer (got \(described))")
  }
  func doubleValue(_ path: String) throws -> Double {
    if let d = float { return d }
    if let i = int { return Double(i) }
    throw ConfigError("\(path) must be a number (got \(described))")
  }
}

/// The keys of a config file, by section.
enum ConfigSchema {
  static let top: [Field] = [
    .int("batch_size", \.batchSize), .double("lr", \.lr), .doubles("adam_betas", \.adamBetas),
    .double("weight_decay", \.weightDecay), .int("warmup_steps", \.warmupSteps),
    .double("ema_decay", \.emaDecay), .int("ema_update_every", \.emaUpdateEvery),
    .optionalDouble("clip_grad", \.clipGrad), .int("gradient_accumulate_every", \.gradientAccumulateEvery),
    .choice("beta_schedule", \.betaSchedule), .int("timesteps", \.timesteps), .choice("objective", \.objective),
    .choice("loss_type", \.lossType), .int("sampling_timesteps", \.samplingTimesteps),
    .double("ddim_sampling_eta", \.ddimSamplingEta), .int("train_steps", \.trainSteps),
    .optionalDouble("train_seconds", \.trainSeconds), .int("save_and_sample_every", \.saveAndSampleEvery),
    .optionalInt("snapshot_every", \.snapshotEvery),
    .int("num_samples", \.numSamples), .int("log_every", \.logEvery), .uint("seed", \.seed),
    .string("pretrained_model_ckpt", \.pretrainedModelCkpt), .choice("precision", \.precision),
    .choice("device", \.device), .bool("compile", \.compile),
    .double("p_uncond", \.pUncond).written { $0.network.numClasses > 0 || $0.pUncond != TrainConfig().pUncond },
  ]
  static let dataset: [Field] = [
    .string("NAME", \.dataset.name), .string("PATH", \.dataset.path), .string("SPLIT", \.dataset.split),
    .optionalInts("CLASSES", \.dataset.classes), .double("FRACTION", \.dataset.fraction),
    .uint("SUBSET_SEED", \.dataset.subsetSeed), .int("COUNT", \.dataset.count),
    .double("MASK_RATIO", \.dataset.maskRatio), .maskType, .maskSize("MASK_BLOCK_SIZE", of: .block), .maskSize("MASK_CROP_SIZE", of: .crop),
    // The authors keep the image size in both blocks; here it is one value, the model's.
    .int("IMG_SIZE", \.network.imageSize), .double("hflip_prob", \.dataset.hflipProb),
  ]
  static let network: [Field] = [
    .int("img_size", \.network.imageSize), .int("patch_size", \.network.patchSize), .int("in_chans", \.network.channels),
    .int("encoder_embed_dim", \.network.embedDim), .int("encoder_depth", \.network.depth),
    .int("encoder_heads", \.network.numHeads), .double("mlp_ratio", \.network.mlpRatio), .bool("qkv_bias", \.network.qkvBias),
    .classCount("num_classes", \.network.numClasses), .bool("mlp_time_embed", \.network.mlpTimeEmbed),
    .bool("use_pos_embed", \.network.usePositionEmbedding),
  ]
  /// Read and checked, not written back (`maskdm` is the only value).
  static let networkChecked: [Field] = [.modelName("name")]

  /// Keys of the authors' files that this implementation accepts and does not act on, each with the
  /// reason: data-loader workers and logging, options fixed to their defaults here, and keys their
  /// own code never reads. `p2_loss_weight_gamma` must be 0 (checked in `apply`).
  static let ignoredKeys: [String: [String: String]] = [
    "": [
      "results_folder": "output location (the run directory is --out)", "num_workers": "data-loader workers",
      "shift": "unused by their trainer", "loss_weight": "unused by their trainer",
      "p2_loss_weight_gamma": "P2 weighting, only 0 is supported", "normalization": "images are always scaled to [-1, 1]",
      "clip_max": "x0 is always clipped to [-1, 1]", "clip_min": "x0 is always clipped to [-1, 1]",
      "warmup_lr": "unused by their trainer", "warmup_schedule": "never read by their code (warm-up is linear)",
      "define": "YAML anchors", "ckpt": "command-line bookkeeping", "name": "run name", "debug": "logging",
      "wandb_project": "logging", "wandb_id": "logging", "overwrite": "command-line bookkeeping",
      "config": "command-line bookkeeping", "resume_from": "use --resume",
    ],
    "dataset": ["TASK": "always generation", "MEAN": "fixed normalisation", "STD": "fixed normalisation",
                "SHORT_SIDE_SIZE": "resizing is set by IMG_SIZE", "NORMALIZATION": "fixed normalisation"],
    "network": ["decoder_embed_dim": "the MaskedUViT has no separate decoder", "decoder_depth": "no separate decoder",
                "decoder_heads": "no separate decoder", "use_final_conv": "always off, as in their maskdm model",
                "use_checkpoint": "activation checkpointing (memory only)"],
  ]

  /// The ignored keys as dotted paths (`define`, `dataset.MEAN`): the keys that may repeat.
  static var ignoredDottedKeys: Set<String> {
    Set(ignoredKeys.flatMap { section, keys in keys.keys.map { section.isEmpty ? $0 : "\(section).\($0)" } })
  }

  static func fields(_ section: String) -> [Field] {
    switch section {
    case "dataset": return dataset
    case "network": return network + networkChecked
    default: return top
    }
  }

  /// The known keys of each section (the top level lists the sections too).
  static var sections: [String: [String]] {
    ["": top.map(\.key) + ["dataset", "network"], "dataset": dataset.map(\.key), "network": fields("network").map(\.key)]
  }

  /// The field of a dotted key (`lr`, `dataset.MASK_RATIO`), nil when it is not one of ours.
  static func field(_ dotted: String) -> (section: String, field: Field)? {
    let parts = dotted.split(separator: ".", maxSplits: 1).map(String.init)
    let (section, key) = parts.count == 2 ? (parts[0], parts[1]) : ("", dotted)
    return fields(section).first { $0.key == key }.map { (section, $0) }
  }

  /// Every dotted key a configuration has (`lr`, `dataset.MASK_RATIO`, `network.mlp_ratio`, …).
  static var dottedKeys: [String] {
    top.map(\.key) + dataset.map { "dataset.\($0.key)" } + network.map { "network.\($0.key)" }
  }
}

extension TrainConfig {
  /// Reads a YAML configuration (an authors' file or one of ours); unknown keys are errors, and so
  /// are keys written twice, except keys this tool does not read (the authors' files repeat `define:`,
  /// which only holds YAML anchors). With `requireSettings`, a document without a single key (an
  /// empty file) is refused rather than read as the defaults.
  public init(yaml text: String, source: String = "config", requireSettings: Bool = false) throws {
    self.init()
    let root = try YAMLReader.compose(text, source: source, allowedDuplicates: ConfigSchema.ignoredDottedKeys)
    guard let root, root.mapping?.isEmpty != true else {
      if requireSettings {
        throw ConfigError("\(source) holds no settings (an empty file, or only comments); a config names at least its data, dataset.NAME and dataset.PATH: start from configs/tiny.yaml")
      }
      return
    }
    try apply(root, source: source)
    try validate()
  }

  /// Reads a YAML file; an empty one is refused.
  public init(contentsOf url: URL) throws {
    guard let text = try YAMLReader.contents(ofFile: url.path) else {
      throw ConfigError("cannot read the config file \(url.path): check the path")
    }
    try self.init(yaml: text, source: url.lastPathComponent, requireSettings: true)
  }

  /// Applies the keys present in `node` (a mapping) over the current values.
  public mutating func apply(_ node: Node, source: String = "config") throws {
    guard let map = node.mapping else { throw ConfigError("\(source): the top level must be a mapping of keys") }
    for (k, v) in map {
      guard let key = k.string else { continue }
      if key == "dataset" || key == "network" {
        guard let section = v.mapping else { throw ConfigError("\(source): \(key) must be a mapping of keys") }
        // The mask's kind before its sizes, which apply to the kind (the authors write them in any order).
        let kindFirst = section.filter { $0.key.string == "MASK_TYPE" } + section.filter { $0.key.string != "MASK_TYPE" }
        for (sk, sv) in kindFirst {
          guard let name = sk.string else { continue }
          try applyKey(name, sv, section: key, source: source)
        }
      } else {
        try applyKey(key, v, section: "", source: source)
      }
    }
    // The authors write the image size in both blocks; two different values cannot both hold.
    if let n = map["network"]?.mapping?["img_size"], let d = map["dataset"]?.mapping?["IMG_SIZE"],
       let a = try? n.intValue(""), let b = try? d.intValue(""), a != b {
      throw ConfigError("\(source): network.img_size (\(a)) must equal dataset.IMG_SIZE (\(b))")
    }
    if let g = map["p2_loss_weight_gamma"], (try? g.doubleValue("")) ?? 0 != 0 {
      throw ConfigError("\(source): p2_loss_weight_gamma other than 0 (P2 loss weighting) is not supported; set it to 0")
    }
  }

  /// Sets one key of `section` ("" for the top level); an unknown key names the closest known one.
  mutating func applyKey(_ key: String, _ value: Node, section: String, source: String) throws {
    let path = section.isEmpty ? key : "\(section).\(key)"
    if let field = ConfigSchema.fields(section).first(where: { $0.key == key }) {
      try field.write(&self, value, path)
    } else if ConfigSchema.ignoredKeys[section]?[key] != nil {
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
    func written(_ fields: [Field]) -> [(Node, Node)] {
      fields.filter { $0.isWritten?(self) ?? true }.map { (Node($0.key), $0.read(self)) }
    }
    func mapping(_ fields: [Field]) -> Node { Node(written(fields), Tag(.map), .block) }
    var pairs = written(ConfigSchema.top)
    pairs.append((Node("dataset"), mapping(ConfigSchema.dataset)))
    pairs.append((Node("network"), mapping(ConfigSchema.network)))
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
