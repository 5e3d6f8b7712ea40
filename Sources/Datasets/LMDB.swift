// Reading an LMDB export, LSUN's distribution format (one record per image: key = image id, value =
// the encoded image), through Debian's liblmdb. The environment is opened read-only and without a
// lock file (MDB_RDONLY | MDB_NOLOCK), so an export on read-only media or a shared mount is read as it
// is and nothing is written beside it.
import CLMDB
import Foundation

/// Whether `path` is an LMDB export: a folder holding `data.mdb`, or a `data.mdb` file itself.
public func isLMDBExport(_ path: String) -> Bool {
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return false }
  if isDir.boolValue { return FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("data.mdb")) }
  return (path as NSString).lastPathComponent == "data.mdb"
}

/// Every record of an LMDB's main database, in key order (LMDB's byte-wise order). One read
/// transaction stays open for the reader's lifetime: the values are pointers into LMDB's memory map,
/// valid until the transaction ends, so they are listed once and copied out later from any thread.
final class LMDBReader: @unchecked Sendable {
  let path: String
  /// The keys, in order.
  let keys: [[UInt8]]
  private let values: [UnsafeRawBufferPointer]
  private let env: OpaquePointer
  private let txn: OpaquePointer

  var count: Int { keys.count }

  init(path: String) throws {
    self.path = path
    var isDir: ObjCBool = false
    let fm = FileManager.default
    guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
      throw DatasetError("LMDB export not found: \(path); give the export's folder, the one holding data.mdb "
                           + "(for LSUN church: church_outdoor_train_lmdb)")
    }
    if isDir.boolValue, !fm.fileExists(atPath: (path as NSString).appendingPathComponent("data.mdb")) {
      throw DatasetError("\(path) holds no data.mdb, so it is not an LMDB export; give the export's folder (the one "
                           + "holding data.mdb), or read a folder of image files as a folder dataset")
    }
    var env: OpaquePointer?
    try lmdbCheck(mdb_env_create(&env), "cannot create an LMDB environment")
    // A data.mdb file given by itself is opened as the file (MDB_NOSUBDIR), a folder as the folder.
    let flags = UInt32(MDB_RDONLY) | UInt32(MDB_NOLOCK) | (isDir.boolValue ? 0 : UInt32(MDB_NOSUBDIR))
    var txn: OpaquePointer?
    do {
      try lmdbCheck(mdb_env_open(env, path, flags, 0o444), "cannot open \(path) as an LMDB export (is it one?)")
      try lmdbCheck(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "cannot read \(path)")
    } catch {
      mdb_env_close(env)
      throw error
    }
    (self.env, self.txn) = (env!, txn!)
    do {
      (keys, values) = try Self.records(txn!, path)
    } catch {
      mdb_txn_abort(txn)
      mdb_env_close(env)
      throw error
    }
  }

  deinit {
    mdb_txn_abort(txn)
    mdb_env_close(env)
  }

  /// The value of record `i`, copied out of the map.
  func value(_ i: Int) -> [UInt8] { Array(values[i].bindMemory(to: UInt8.self)) }

  /// Record `i`'s key as text when it is printable (LSUN's are hexadecimal ids), else as hex bytes.
  func keyName(_ i: Int) -> String {
    let key = keys[i]
    if !key.isEmpty, key.allSatisfy({ (0x21...0x7E).contains($0) }) { return String(decoding: key, as: UTF8.self) }
    return "0x" + key.map { String(format: "%02x", $0) }.joined()
  }

  private static func records(_ txn: OpaquePointer, _ path: String) throws -> ([[UInt8]], [UnsafeRawBufferPointer]) {
    var dbi = MDB_dbi()
    try lmdbCheck(mdb_dbi_open(txn, nil, 0, &dbi), "cannot open the main database of \(path)")
    var cursor: OpaquePointer?
    try lmdbCheck(mdb_cursor_open(txn, dbi, &cursor), "cannot read \(path)")
    defer { mdb_cursor_close(cursor) }
    var keys: [[UInt8]] = []
    var values: [UnsafeRawBufferPointer] = []
    var key = MDB_val(), value = MDB_val()
    var rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
    while rc == 0 {
      keys.append(Array(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)))
      values.append(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
      rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
    }
    if rc != MDB_NOTFOUND { try lmdbCheck(rc, "cannot read \(path) after \(keys.count) records") }
    guard !keys.isEmpty else { throw DatasetError("the LMDB at \(path) holds no records") }
    return (keys, values)
  }
}

/// Turns an LMDB status into a DatasetError carrying liblmdb's own explanation.
private func lmdbCheck(_ rc: Int32, _ what: String) throws {
  guard rc != 0 else { return }
  throw DatasetError("\(what): \(String(cString: mdb_strerror(rc)))")
}
