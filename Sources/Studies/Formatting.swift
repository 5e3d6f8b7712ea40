// How Studies writes numbers and durations in reports, plans, labels and messages: one place, so that
// the same number reads the same everywhere.
import Foundation

/// `%g`: six significant digits, no trailing zeros (0.1, 25, 1e-05).
func gFormat(_ v: Double) -> String { String(format: "%g", v) }

/// A number to one decimal without trailing zeros ("6", "1.5"); without `String(format:)`, which is slow
/// and this is called for every piece of evidence a part is weighed on.
func oneDecimal(_ v: Double) -> String {
  let tenths = (v * 10).rounded()
  return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(tenths / 10)
}

/// A number with `digits` decimals (non-finite numbers as Swift prints them).
func formatted(_ v: Double, digits: Int = 3) -> String {
  v.isFinite ? String(format: "%.\(digits)f", v) : "\(v)"
}

/// A duration for people: seconds, minutes or hours.
func seconds(_ s: Double) -> String {
  s >= 3600 ? String(format: "%.1f h", s / 3600) : s >= 120 ? String(format: "%.1f min", s / 60) : String(format: "%.0f s", s)
}
