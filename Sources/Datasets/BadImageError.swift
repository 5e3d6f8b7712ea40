// An image that cannot be decoded while a dataset is packed. The fix depends on who packs: `maskdm
// prepare` can skip such images (--on-bad-image skip), training cannot, so each caller words its
// own advice from the name and the reason.
/// A source image that could not be read, and why.
public struct BadImageError: Error, CustomStringConvertible, Equatable {
  /// The image's path (or its key in an LMDB).
  public let name: String
  /// The decoder's message.
  public let reason: String
  public init(name: String, reason: String) { (self.name, self.reason) = (name, reason) }
  /// The message for `maskdm prepare`, which can skip bad images.
  public var description: String { "bad image \(name): \(reason); fix or remove it, or pass --on-bad-image skip" }
}
