// Stable names for cached things (dataset caches, stage identities, evaluation caches): a hash that is
// the same on every machine and every run, unlike Swift's seeded `Hasher`.

/// 64-bit FNV-1a of the UTF-8 bytes of `text`.
public func fnv1a(_ text: String) -> UInt64 {
  var h: UInt64 = 0xcbf2_9ce4_8422_2325
  for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
  return h
}

/// `fnv1a` as 16 hexadecimal digits.
public func fnv1aHex(_ text: String) -> String {
  let digits = String(fnv1a(text), radix: 16)
  return String(repeating: "0", count: 16 - digits.count) + digits
}
