// The tensors a run carries from step to step: parameters, AdamW's moments and the EMA weights, each
// as one array in a fixed (sorted-name) order, which is the order the traced step takes and returns
// them. The trainer and the benchmark both step a `TrainState`; checkpoints convert it to and from
// named dictionaries only when they are written or read.
import Engine
import Foundation
import NN

/// Parameters, optimizer state and EMA weights of one model, in `names` order.
struct TrainState {
  /// The parameter names, sorted: the order of every array below.
  let names: [String]
  var params: [Tensor]
  var m: [Tensor]
  var v: [Tensor]
  var ema: [Tensor]

  /// A fresh state: AdamW's moments at zero and the EMA equal to the parameters.
  init(parameters: Parameters) throws {
    names = parameters.keys.sorted()
    params = names.map { parameters[$0]! }
    m = try params.map { try Tensor.zeros($0.shape) }
    v = m
    ema = params
  }

  /// The state a checkpoint holds.
  init(checkpoint c: Checkpoint) throws {
    let names = c.model.keys.sorted()
    self.names = names
    func ordered(_ d: Parameters, _ what: String) throws -> [Tensor] {
      try names.map { name in
        guard let t = d[name] else { throw ConfigError("the checkpoint's \(what) lacks \(name); resume from an intact checkpoint") }
        return t
      }
    }
    (params, m, v, ema) = (try ordered(c.model, "model"), try ordered(c.adamM, "optimizer state"),
                           try ordered(c.adamV, "optimizer state"), try ordered(c.ema, "EMA weights"))
  }

  /// The parameters by name (what the model loads).
  var parameters: Parameters { Parameters(uniqueKeysWithValues: zip(names, params)) }
  /// The EMA weights by name (what samples use).
  var emaParameters: Parameters { Parameters(uniqueKeysWithValues: zip(names, ema)) }
  /// The number of scalars in the parameters.
  var parameterCount: Int { params.reduce(0) { $0 + $1.size } }
  /// Every array, for evaluation.
  var all: [Tensor] { params + m + v + ema }

  /// The checkpoint of this state with the run's progress.
  func checkpoint(_ progress: RunProgress) -> Checkpoint {
    func named(_ a: [Tensor]) -> Parameters { Parameters(uniqueKeysWithValues: zip(names, a)) }
    return Checkpoint(model: named(params), ema: named(ema), adamM: named(m), adamV: named(v), state: progress)
  }
}
