// The shape of a MaskedUViT (the authors' `network:` block), with the paper's sizes as presets.

/// Hyper-parameters of a MaskedUViT. Defaults are the CelebA-64 model of the paper's ablations.
public struct ModelConfig: Codable, Equatable, Sendable {
  public var imageSize = 64
  public var channels = 3
  public var patchSize = 4
  public var embedDim = 512
  public var depth = 13
  public var numHeads = 8
  public var mlpRatio = 4.0
  public var qkvBias = false
  /// Add the learned position embedding to the tokens before masking. `false` removes it (the
  /// "REMOVE positional information H" ablation).
  public var usePositionEmbedding = true
  /// Class-conditional when > 0: a label token is prepended.
  public var numClasses = 0
  /// Pass the sinusoidal time embedding through Linear-SiLU-Linear.
  public var mlpTimeEmbed = false

  public init() {}

  /// CelebA 64x64 (the paper's ablations): patch 4, D 512, depth 13, 8 heads (~44M parameters).
  public static let celebA64 = ModelConfig()
  /// The CPU benchmark preset: 32px, patch 4, D 256, depth 13, 4 heads.
  public static let s32: ModelConfig = {
    var c = ModelConfig()
    (c.imageSize, c.embedDim, c.numHeads) = (32, 256, 4)
    return c
  }()
  /// A model small enough for tests: 16px, patch 4, D 64, depth 5, 4 heads.
  public static let tiny: ModelConfig = {
    var c = ModelConfig()
    (c.imageSize, c.embedDim, c.depth, c.numHeads) = (16, 64, 5, 4)
    return c
  }()

  /// The studies' CPU model (the quick preset of every plan): Fashion-MNIST at 32px, one channel,
  /// patch 4, D 64, depth 5, 2 heads (0.27M parameters). A benchmark preset too, because it is what a
  /// study on a CPU spends its time training and sampling.
  public static let quick: ModelConfig = {
    var c = ModelConfig()
    (c.imageSize, c.channels, c.embedDim, c.depth, c.numHeads) = (32, 1, 64, 5, 2)
    return c
  }()

  /// The presets by the names `bench` and the comparison harness use.
  public static let presets: [(name: String, config: ModelConfig)] = [
    ("s32", .s32), ("celeba64", .celebA64), ("tiny", .tiny), ("quick", .quick),
  ]

  /// The preset called `name`.
  public static func preset(_ name: String) throws -> ModelConfig {
    guard let p = presets.first(where: { $0.name == name }) else {
      throw ModelError("unknown preset \(name); known: \(presets.map(\.name).joined(separator: ", "))")
    }
    return p.config
  }

  /// Patches per side.
  public var grid: Int { imageSize / patchSize }
  /// Patches per image.
  public var numPatches: Int { grid * grid }
  /// Tokens before the patches: the time token, and the label token when class-conditional.
  public var extraTokens: Int { numClasses > 0 ? 2 : 1 }

  public func validate() throws {
    func fail(_ m: String) -> ModelError { ModelError(m) }
    guard imageSize > 0, patchSize > 0, imageSize % patchSize == 0 else {
      throw fail("the patch size \(patchSize) must divide the image size \(imageSize)")
    }
    guard channels > 0 else { throw fail("channels must be positive") }
    guard embedDim > 0, numHeads > 0, embedDim % numHeads == 0 else {
      throw fail("the embedding dimension \(embedDim) must be a multiple of the heads \(numHeads)")
    }
    guard depth >= 1 else { throw fail("depth must be at least 1") }
    guard mlpRatio > 0 else { throw fail("mlp_ratio must be positive") }
  }
}

/// A setting of the model, masks or diffusion that cannot work, with the reason.
public struct ModelError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
