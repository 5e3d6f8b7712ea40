// Evaluation and function transformations: value-and-gradient, vector-Jacobian products and graph
// compilation, over Swift closures of tensors or of parameter dictionaries.
import CMLX

/// Evaluates the tensors' graphs now.
public func eval(_ tensors: [Tensor]) throws {
  let hs = tensors.map(\.handle)
  try Engine.run { try checkStatus(mlxs_eval(hs, Int32(hs.count)), "eval") }
}
public func eval(_ tensors: Tensor...) throws { try eval(tensors) }

/// The nodes an evaluation of `tensors` would run, counted by MLX primitive name (for finding where a
/// step's graph has more nodes than it needs; each node costs time on the thread that walks the graph).
public func graphCensus(_ tensors: [Tensor]) throws -> [String: Int] {
  let hs = tensors.map(\.handle)
  let text: String = try Engine.run {
    var needed: Int32 = 0
    try checkStatus(mlxs_graph_census(hs, Int32(hs.count), nil, 0, &needed), "graph census")
    var buffer = [CChar](repeating: 0, count: Int(needed))
    try checkStatus(mlxs_graph_census(hs, Int32(hs.count), &buffer, needed, &needed), "graph census")
    return String(cString: buffer)
  }
  var counts: [String: Int] = [:]
  for line in text.split(separator: "\n") {
    if let space = line.lastIndex(of: " "), let n = Int(line[line.index(after: space)...]) {
      counts[String(line[..<space]), default: 0] += n
    }
  }
  return counts
}

/// Starts evaluating the tensors and returns at once (the next eval waits for them).
public func asyncEval(_ tensors: [Tensor]) throws {
  let hs = tensors.map(\.handle)
  try Engine.run { try checkStatus(mlxs_async_eval(hs, Int32(hs.count)), "async_eval") }
}

/// A tensor function handed to MLX; keeps the first Swift error it threw so that the caller gets
/// that error back, not only its text.
final class ClosureBox {
  let body: ([Tensor]) throws -> [Tensor]
  var error: Error?
  init(_ body: @escaping ([Tensor]) throws -> [Tensor]) { self.body = body }

  var payload: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

  /// Rethrows the closure's own error if it threw, else the shim's.
  func rethrow(_ status: Int32, _ what: String) throws {
    if status != 0, let error {
      self.error = nil
      throw error
    }
    try checkStatus(status, what)
  }
}

/// The C entry point of every Swift closure: takes ownership of the inputs, appends the outputs.
let closureTrampoline: mlxs_closure = { payload, inputs, count, out in
  let box = Unmanaged<ClosureBox>.fromOpaque(payload!).takeUnretainedValue()
  let args = (0..<Int(count)).map { Tensor(owning: inputs![$0]) }
  do {
    for result in try box.body(args) { mlxs_vec_append(out, result.handle) }
    return 0
  } catch {
    box.error = error
    mlxs_set_error("\(error)")
    return 1
  }
}

/// Calls `f(inputs)` and differentiates its first output, a scalar, with respect to the inputs at
/// `argnums`. Returns every output and one gradient per argnum.
public func valueAndGrad(
  _ inputs: [Tensor], argnums: [Int], _ f: @escaping ([Tensor]) throws -> [Tensor]
) throws -> (values: [Tensor], grads: [Tensor]) {
  try Engine.run {
    let box = ClosureBox(f)
    var values = mlxs_vec(ctx: nil)
    var grads = mlxs_vec(ctx: nil)
    mlxs_vec_new(&values)
    mlxs_vec_new(&grads)
    let hs = inputs.map(\.handle)
    let an = argnums.map(Int32.init)
    let status = withExtendedLifetime(box) {
      mlxs_value_and_grad(closureTrampoline, box.payload, hs, Int32(hs.count), an, Int32(an.count), values, grads)
    }
    if status != 0 {
      mlxs_vec_free(values)
      mlxs_vec_free(grads)
    }
    try box.rethrow(status, "value_and_grad")
    return (try Tensor.unpack(values), try Tensor.unpack(grads))
  }
}

/// The gradient of `f`'s scalar first output with respect to every input.
public func grad(_ inputs: [Tensor], _ f: @escaping ([Tensor]) throws -> Tensor) throws -> [Tensor] {
  try valueAndGrad(inputs, argnums: Array(inputs.indices)) { [try f($0)] }.grads
}

/// Parameters by their dotted path (`encoder.in_blocks.0.attn.qkv.weight`): the flat form of a nested
/// module tree, ordered by name wherever order matters.
public typealias Parameters = [String: Tensor]

/// `valueAndGrad` over a dictionary of parameters, with further inputs that are not differentiated.
public func valueAndGrad(
  _ parameters: Parameters, _ extra: [Tensor] = [],
  _ f: @escaping (Parameters, [Tensor]) throws -> [Tensor]
) throws -> (values: [Tensor], grads: Parameters) {
  let names = parameters.keys.sorted()
  let inputs = names.map { parameters[$0]! } + extra
  let (values, grads) = try valueAndGrad(inputs, argnums: Array(names.indices)) { args in
    var p = Parameters(minimumCapacity: names.count)
    for (i, name) in names.enumerated() { p[name] = args[i] }
    return try f(p, Array(args[names.count...]))
  }
  return (values, Dictionary(uniqueKeysWithValues: zip(names, grads)))
}

/// The vector-Jacobian product of `f` at `primals` with `cotangents`.
public func vjp(
  _ primals: [Tensor], cotangents: [Tensor], _ f: @escaping ([Tensor]) throws -> [Tensor]
) throws -> (outputs: [Tensor], vjps: [Tensor]) {
  try Engine.run {
    let box = ClosureBox(f)
    var outs = mlxs_vec(ctx: nil)
    var vjps = mlxs_vec(ctx: nil)
    mlxs_vec_new(&outs)
    mlxs_vec_new(&vjps)
    let ps = primals.map(\.handle)
    let cs = cotangents.map(\.handle)
    let status = withExtendedLifetime(box) {
      mlxs_vjp(closureTrampoline, box.payload, ps, Int32(ps.count), cs, Int32(cs.count), outs, vjps)
    }
    if status != 0 {
      mlxs_vec_free(outs)
      mlxs_vec_free(vjps)
    }
    try box.rethrow(status, "vjp")
    return (try Tensor.unpack(outs), try Tensor.unpack(vjps))
  }
}

/// A function traced once per input shape and replayed as a fused graph. State goes in and comes out
/// explicitly (as inputs and outputs), so a compiled training step stays a pure function.
public final class CompiledFunction: @unchecked Sendable {
  let fn: mlxs_fn
  let box: ClosureBox

  /// Compiles `f`. With `shapeless`, one trace serves every input shape (only for shape-agnostic f).
  public init(shapeless: Bool = false, _ f: @escaping ([Tensor]) throws -> [Tensor]) throws {
    box = ClosureBox(f)
    let retained = Unmanaged.passRetained(box).toOpaque()
    var out = mlxs_fn(ctx: nil)
    let status = try Engine.run {
      mlxs_compile(&out, closureTrampoline, retained, { Unmanaged<ClosureBox>.fromOpaque($0!).release() }, shapeless)
    }
    try checkStatus(status, "compile")
    fn = out
  }

  /// Runs the compiled graph (tracing it first for a new input shape).
  public func callAsFunction(_ inputs: [Tensor]) throws -> [Tensor] {
    try Engine.run {
      var out = mlxs_vec(ctx: nil)
      mlxs_vec_new(&out)
      let hs = inputs.map(\.handle)
      let status = mlxs_fn_call(fn, hs, Int32(hs.count), out)
      if status != 0 { mlxs_vec_free(out) }
      try box.rethrow(status, "compiled call")
      return try Tensor.unpack(out)
    }
  }

  deinit {
    let f = fn
    if EngineThread.isCurrent { mlxs_fn_free(f) } else { EngineThread.shared.performLater { mlxs_fn_free(f) } }
  }
}

/// Turns graph compilation off for the whole process (`MASKDM_NO_COMPILE=1` does so too).
public func setCompileEnabled(_ enabled: Bool) throws {
  try Engine.run { try checkStatus(mlxs_set_compile_disabled(enabled ? 0 : 1)) }
}
