// Turns training events into a progress line (redrawn in place on a terminal, one line per log
// otherwise) with loss, img/s and ETA.
import Foundation
import Training

final class ProgressPrinter {
  let label: String
  let interactive = isatty(fileno(stderr)) != 0
  private var lastLine = ""

  init(label: String) { self.label = label }

  func handle(_ event: TrainingEvent) {
    switch event {
    case let .preparingData(done, total):
      if done == total || done % 5000 == 0 { line("preparing data \(done)/\(total)", keep: done == total) }
    case let .started(step, total, resumed, parameters, device, dir):
      line("\(resumed ? "resuming" : "training") \(label) at step \(step)/\(total), "
             + String(format: "%.2fM parameters on %@ -> %@", Double(parameters) / 1e6, device, dir.path), keep: true)
    case let .initialized(from, missing, unexpected):
      line("initialised from \(from.path)" + (missing.isEmpty ? "" : "; missing: \(missing.joined(separator: ", "))")
             + (unexpected.isEmpty ? "" : "; unexpected: \(unexpected.joined(separator: ", "))"), keep: true)
    case let .step(r):
      // A time budget that ends first is the progress people care about.
      let byTime = r.budgetSeconds.map { b in Double(r.totalSteps - r.step) * r.trainSeconds / Double(max(r.step, 1)) > b - r.trainSeconds } ?? false
      let fraction = byTime ? r.trainSeconds / r.budgetSeconds! : r.totalSteps > 0 ? Double(r.step) / Double(r.totalSteps) : 0
      let width = 24
      let filled = max(0, min(width, Int(fraction * Double(width))))
      let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
      let position = byTime ? String(format: "step %d, %.0f/%.0f s", r.step, r.trainSeconds, r.budgetSeconds!) : "\(r.step)/\(r.totalSteps)"
      line(String(format: "[%@] %@ loss %.4f  %.1f img/s  lr %.1e  ETA %@", bar, position, r.loss,
                  r.imagesPerSecond, r.learningRate, duration(r.etaSeconds ?? 0)), keep: !interactive)
    case let .checkpoint(step, url):
      if !interactive { line("checkpoint step \(step): \(url.lastPathComponent)", keep: true) }
    case let .sample(step, url):
      if !interactive { line("samples step \(step): \(url.path)", keep: true) }
    case let .notice(text):
      line(text, keep: true)
    case .finished:
      break
    }
  }

  /// A free-form progress line (redrawn in place on a terminal; kept when `done`). Into a file or a
  /// pipe it is written when done and at most every `Self.loggedStatusInterval` seconds before, so that
  /// a log shows long work (reference statistics, sampling) moving without a line per image.
  func status(_ text: String, done: Bool) {
    let now = DispatchTime.now().uptimeNanoseconds
    if interactive || done || Double(now - lastStatusLogged) / 1e9 >= Self.loggedStatusInterval {
      line(text, keep: done)
      lastStatusLogged = now
    }
  }

  /// Seconds between the progress lines of `status` in a log.
  static let loggedStatusInterval = 30.0
  private var lastStatusLogged = DispatchTime.now().uptimeNanoseconds

  func finish() {
    if interactive, !lastLine.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
    lastLine = ""
  }

  private func line(_ text: String, keep: Bool) {
    if interactive {
      FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (keep ? "\n" : "")).utf8))
      lastLine = keep ? "" : text
    } else {
      FileHandle.standardError.write(Data((text + "\n").utf8))
    }
  }
}

func duration(_ seconds: Double) -> String {
  let s = Int(seconds.rounded())
  return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
}
