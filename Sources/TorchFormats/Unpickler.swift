// A restricted reader of Python pickles (protocol 2, as PyTorch writes them). It never executes
// anything: it understands only the opcodes containers and tensors need, and only these globals —
// `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`, `collections.OrderedDict`,
// `torch.*Storage`, `torch.jit._pickle.build_intlist`, and TorchScript module classes
// (`__torch__.*`), which become plain objects holding their state. Anything else is an error.
// (A state dict's `_metadata` attribute, set on the OrderedDict by BUILD, is read and dropped.)
import Foundation

/// A value a pickle built.
public indirect enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  case float(Double)
  case string(String)
  case bytes(Data)
  case tuple([PickleValue])
  case list(PickleList)
  case dict(PickleDict)
  /// A TorchScript module (or other allowed class) and its state, set by BUILD.
  case object(PickleObject)
  case global(String)
  /// A reference to tensor storage in the archive: (dtype name, key, element count).
  case storage(dtype: String, key: String, count: Int)
  case tensor(TensorRecord)
}

/// Mutable containers (pickles fill them after memoising them).
public final class PickleList { public var items: [PickleValue] = [] }
public final class PickleDict {
  public var keys: [PickleValue] = []
  public var values: [PickleValue] = []
  public subscript(_ key: String) -> PickleValue? {
    for (k, v) in zip(keys, values) { if case .string(key) = k { return v } }
    return nil
  }
}
public final class PickleObject {
  public let className: String
  public var state: PickleValue = .none
  init(className: String) { self.className = className }
  /// An attribute of the object's state dict.
  public subscript(_ name: String) -> PickleValue? {
    if case let .dict(d) = state { return d[name] }
    return nil
  }
}

/// A tensor as `_rebuild_tensor_v2` describes it.
public struct TensorRecord {
  public var dtype: String
  public var storageKey: String
  public var storageCount: Int
  public var offset: Int
  public var shape: [Int]
  public var strides: [Int]
}

public struct Unpickler {
  static let storageTypes: [String: String] = [
    "torch.FloatStorage": "float32", "torch.DoubleStorage": "float64", "torch.HalfStorage": "float16",
    "torch.BFloat16Storage": "bfloat16", "torch.LongStorage": "int64", "torch.IntStorage": "int32",
    "torch.ByteStorage": "uint8", "torch.BoolStorage": "bool",
  ]
  static let functions: Set<String> = [
    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "collections.OrderedDict",
    "torch.jit._pickle.build_intlist",
  ]

  /// Reads one pickle; `source` names the file in errors.
  public static func load(_ data: Data, source: String) throws -> PickleValue {
    let containers = Containers()
    do {
      let value = try parse(data, source: source, containers: containers)
      guard !containers.formCycle() else {
        throw UntrustedFileError("\(source): refused pickle: a container that contains itself (no checkpoint holds one)")
      }
      return value
    } catch {
      // A refused pickle may have linked its containers into a cycle, which would never be freed.
      containers.empty()
      throw error
    }
  }

  static func parse(_ data: Data, source: String, containers: Containers) throws -> PickleValue {
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    var p = data.startIndex
    let end = data.endIndex
    func fail(_ why: String) -> UntrustedFileError { UntrustedFileError("\(source): refused pickle: \(why)") }
    func byte() throws -> UInt8 {
      guard p < end else { throw fail("truncated") }
      defer { p += 1 }
      return data[p]
    }
    func le(_ n: Int) throws -> Int {
      guard p + n <= end else { throw fail("truncated") }
      var v = 0
      for i in 0..<n { v |= Int(data[p + i]) << (8 * i) }
      p += n
      return v
    }
    func bytes(_ n: Int) throws -> Data {
      guard n >= 0, n <= end - p else { throw fail("a length of \(n) bytes beyond the data") }
      defer { p += n }
      return data.subdata(in: p..<(p + n))
    }
    func line() throws -> String {
      guard let nl = data[p..<end].firstIndex(of: 0x0A) else { throw fail("truncated") }
      defer { p = nl + 1 }
      return String(decoding: data[p..<nl], as: UTF8.self)
    }
    func pop() throws -> PickleValue {
      guard let v = stack.popLast() else { throw fail("stack underflow") }
      return v
    }
    func popMark() throws -> [PickleValue] {
      guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK missing") }
      defer { stack.removeSubrange(m...) }
      return Array(stack[m...])
    }
    func int32(_ v: Int) -> Int { v >= 1 << 31 ? v - (1 << 32) : v }

    while true {
      let op = try byte()
      switch op {
      case 0x80: _ = try byte()  // PROTO
      case 0x2E: return try pop()  // STOP
      case 0x28: marks.append(stack.count)  // MARK
      case 0x4E: stack.append(.none)
      case 0x88: stack.append(.bool(true))
      case 0x89: stack.append(.bool(false))
      case 0x4B: stack.append(.int(try le(1)))  // BININT1
      case 0x4D: stack.append(.int(try le(2)))  // BININT2
      case 0x4A: stack.append(.int(int32(try le(4))))  // BININT
      case 0x8A:  // LONG1
        let n = try le(1)
        guard n <= 8 else { throw fail("integer of \(n) bytes") }
        let raw = try bytes(n)
        var v = 0
        for (i, b) in raw.enumerated() { v |= Int(b) << (8 * i) }
        if n > 0, n < 8, raw.last! & 0x80 != 0 { v -= 1 << (8 * n) }
        stack.append(.int(v))
      case 0x47:  // BINFLOAT (big-endian)
        let raw = try bytes(8)
        stack.append(.float(Double(bitPattern: raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
      case 0x58: stack.append(.string(String(decoding: try bytes(try le(4)), as: UTF8.self)))  // BINUNICODE
      case 0x8C: stack.append(.string(String(decoding: try bytes(try le(1)), as: UTF8.self)))  // SHORT_BINUNICODE
      case 0x43: stack.append(.bytes(try bytes(try le(1))))  // SHORT_BINBYTES
      case 0x42: stack.append(.bytes(try bytes(try le(4))))  // BINBYTES
      case 0x29: stack.append(.tuple([]))
      case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
      case 0x85: stack.append(.tuple([try pop()]))
      case 0x86:
        let b = try pop(), a = try pop()
        stack.append(.tuple([a, b]))
      case 0x87:
        let c = try pop(), b = try pop(), a = try pop()
        stack.append(.tuple([a, b, c]))
      case 0x5D: stack.append(containers.note(.list(PickleList())))  // EMPTY_LIST
      case 0x7D: stack.append(containers.note(.dict(PickleDict())))  // EMPTY_DICT
      case 0x61:  // APPEND
        let v = try pop()
        guard case let .list(l)? = stack.last else { throw fail("APPEND to a non-list") }
        l.items.append(v)
      case 0x65:  // APPENDS
        let items = try popMark()
        guard case let .list(l)? = stack.last else { throw fail("APPENDS to a non-list") }
        l.items += items
      case 0x73, 0x75:  // SETITEM, SETITEMS
        let items = op == 0x73 ? [try pop(), try pop()].reversed() : try popMark()
        guard items.count % 2 == 0, case let .dict(d)? = stack.last else { throw fail("SETITEMS on a non-dict") }
        for i in stride(from: 0, to: items.count, by: 2) {
          d.keys.append(items[i])
          d.values.append(items[i + 1])
        }
      case 0x71: memo[try le(1)] = stack.last  // BINPUT
      case 0x72: memo[try le(4)] = stack.last  // LONG_BINPUT
      case 0x94: memo[memo.count] = stack.last  // MEMOIZE
      case 0x68, 0x6A:  // BINGET, LONG_BINGET
        let key = try le(op == 0x68 ? 1 : 4)
        guard let v = memo[key] else { throw fail("memo key \(key) unset") }
        stack.append(v)
      case 0x63:  // GLOBAL
        let name = "\(try line()).\(try line())"
        guard name.hasPrefix("__torch__.") || storageTypes[name] != nil || functions.contains(name) else {
          throw fail("it refers to the global \(name), which is not allowed (only tensors, containers and TorchScript modules are)")
        }
        stack.append(.global(name))
      case 0x81:  // NEWOBJ
        _ = try pop()
        guard case let .global(name) = try pop(), name.hasPrefix("__torch__.") else { throw fail("NEWOBJ of a non-module class") }
        stack.append(containers.note(.object(PickleObject(className: name))))
      case 0x62:  // BUILD
        let state = try pop()
        switch (stack.last, state) {
        case let (.object(o)?, _): o.state = state
        // A state_dict is an OrderedDict with a `_metadata` attribute (module versions); pickle restores
        // it by BUILD on the dict. That attribute is plain data we have no use for, so it is dropped.
        case (.dict?, .dict): break
        default: throw fail("BUILD on a non-object")
        }
      case 0x51:  // BINPERSID
        guard case let .tuple(t) = try pop(), t.count == 5, case .string("storage") = t[0],
              case let .global(type) = t[1], let dtype = storageTypes[type], case let .string(key) = t[2],
              case let .int(count) = t[4], count >= 0
        else { throw fail("a persistent id that is not a tensor storage") }
        stack.append(.storage(dtype: dtype, key: key, count: count))
      case 0x52:  // REDUCE
        let args = try pop()
        guard case let .global(name) = try pop(), case let .tuple(a) = args else { throw fail("REDUCE of a non-callable") }
        stack.append(containers.note(try reduce(name, a, fail)))
      default:
        throw fail(String(format: "opcode 0x%02x is not allowed", op))
      }
    }
  }

  static func reduce(_ name: String, _ a: [PickleValue], _ fail: (String) -> UntrustedFileError) throws -> PickleValue {
    func ints(_ v: PickleValue) -> [Int]? {
      guard case let .tuple(t) = v else { return nil }
      return t.compactMap { if case let .int(i) = $0 { return i } else { return nil } }
    }
    switch name {
    case "collections.OrderedDict":
      return .dict(PickleDict())
    case "torch.jit._pickle.build_intlist":
      guard a.count == 1 else { throw fail("build_intlist with \(a.count) arguments") }
      return a[0]
    case "torch._utils._rebuild_parameter":
      guard let first = a.first, case .tensor = first else { throw fail("_rebuild_parameter without a tensor") }
      return first
    case "torch._utils._rebuild_tensor_v2":
      guard a.count >= 4, case let .storage(dtype, key, count) = a[0], case let .int(offset) = a[1],
            let shape = ints(a[2]), let strides = ints(a[3]), shape.count == strides.count, offset >= 0,
            shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 })
      else { throw fail("malformed tensor") }
      // The furthest element the view touches must lie inside the storage.
      let last = offset + zip(shape, strides).reduce(0) { $0 + ($1.0 > 0 ? ($1.0 - 1) * $1.1 : 0) }
      guard shape.contains(0) || last < count else { throw fail("tensor view beyond its storage of \(count) elements") }
      return .tensor(TensorRecord(dtype: dtype, storageKey: key, storageCount: count, offset: offset, shape: shape, strides: strides))
    default:
      throw fail("calling \(name) is not allowed")
    }
  }
}

/// Every mutable container one pickle made. APPEND, SETITEMS and BUILD can put a memoised container
/// into itself (or into one it contains): a reference cycle, which ARC never frees. Such a pickle is
/// refused, and the containers of any refused pickle are emptied so that nothing leaks.
final class Containers {
  private var all: [PickleValue] = []

  /// Records `value` when it is a container; returns it.
  func note(_ value: PickleValue) -> PickleValue {
    switch value {
    case .list, .dict, .object: all.append(value)
    default: break
    }
    return value
  }

  /// Breaks every link between the containers.
  func empty() {
    for value in all {
      switch value {
      case let .list(l): l.items = []
      case let .dict(d): (d.keys, d.values) = ([], [])
      case let .object(o): o.state = .none
      default: break
      }
    }
  }

  /// True when the containers link into a cycle (Kahn's algorithm over container-in-container
  /// edges; iterative, as pickles can nest deeply).
  func formCycle() -> Bool {
    func id(_ v: PickleValue) -> ObjectIdentifier? {
      switch v {
      case let .list(l): return ObjectIdentifier(l)
      case let .dict(d): return ObjectIdentifier(d)
      case let .object(o): return ObjectIdentifier(o)
      default: return nil
      }
    }
    /// The containers directly inside `v` (looking through tuples).
    func children(_ v: PickleValue) -> [ObjectIdentifier] {
      var pending: [PickleValue]
      switch v {
      case let .list(l): pending = l.items
      case let .dict(d): pending = d.keys + d.values
      case let .object(o): pending = [o.state]
      default: return []
      }
      var out: [ObjectIdentifier] = []
      while let next = pending.popLast() {
        if case let .tuple(items) = next { pending += items } else if let i = id(next) { out.append(i) }
      }
      return out
    }
    var edges: [ObjectIdentifier: [ObjectIdentifier]] = [:]
    var incoming: [ObjectIdentifier: Int] = [:]
    for value in all {
      guard let i = id(value), edges[i] == nil else { continue }
      let c = children(value)
      edges[i] = c
      incoming[i, default: 0] += 0
      for child in c { incoming[child, default: 0] += 1 }
    }
    var ready = incoming.filter { $0.value == 0 }.map(\.key)
    var removed = 0
    while let i = ready.popLast() {
      removed += 1
      for child in edges[i] ?? [] {
        incoming[child]! -= 1
        if incoming[child] == 0 { ready.append(child) }
      }
    }
    return removed < incoming.count
  }
}
