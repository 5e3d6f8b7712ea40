// Files that survive a crash or a full disk: written beside their destination, flushed, then renamed
// into place, so a reader sees the old file or the new one, never half of one.
import Datasets
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file could not be read, written or moved; the message names the file and the reason.
public struct FileSystemError: Error, CustomStringConvertible, Equatable {
  public let message: String
  /// The file to be created existed already (or was a symbolic link).
  public var exists = false
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Writes `data` to `url` atomically: a staging file in the same directory (`StagingName`), fsync,
/// rename. Staging copies of `url` that killed processes left behind are removed first.
public func writeAtomically(_ data: Data, to url: URL) throws {
  StagingName.removeStale(for: url)
  let tmp = StagingName.url(for: url)
  do {
    do { try writeDurably(data, to: tmp) } catch let e as FileSystemError where e.exists {
      // Something already has this process's staging name (a link planted there, or a copy of an
      // earlier process with our pid): remove the name, never what it points to, and create it anew.
      unlink(tmp.path)
      try writeDurably(data, to: tmp)
    }
  } catch {
    if (error as? FileSystemError)?.exists != true { unlink(tmp.path) }
    throw error
  }
  guard rename(tmp.path, url.path) == 0 else {
    let why = String(cString: strerror(errno))
    unlink(tmp.path)
    throw FileSystemError("cannot move \(tmp.lastPathComponent) to \(url.path): \(why)")
  }
}

/// Creates a new file, writes and fsyncs it; a full disk or a missing directory is an error naming the
/// file. The file must not exist: it is opened with `O_CREAT | O_EXCL | O_NOFOLLOW`, so a file or a
/// symbolic link already at `url` is never written through (`FileSystemError.exists`).
func writeDurably(_ data: Data, to url: URL, mode: mode_t = 0o644) throws {
  let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
  guard fd >= 0 else {
    var e = FileSystemError("cannot create \(url.path): \(String(cString: strerror(errno)))")
    e.exists = errno == EEXIST || errno == ELOOP
    throw e
  }
  defer { close(fd) }
  var offset = 0
  try data.withUnsafeBytes { raw in
    while offset < raw.count {
      let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        let hint = [ENOSPC: " (the disk is full)", EDQUOT: " (the disk quota is used up)", EFBIG: " (the file size limit, ulimit -f, is reached)"][errno] ?? ""
        throw FileSystemError("cannot write \(url.path): \(String(cString: strerror(errno)))\(hint)")
      }
      offset += n
    }
  }
  guard fsync(fd) == 0 else { throw FileSystemError("cannot flush \(url.path): \(String(cString: strerror(errno)))") }
}

func fsyncDirectory(_ url: URL) {
  let fd = open(url.path, O_RDONLY)
  if fd >= 0 {
    fsync(fd)
    close(fd)
  }
}

/// A new folder only this user can enter (mode 0700) under the temporary directory, with a name
/// nobody can guess (`mkdtemp`): the place for temporary files that other processes read by path.
public func makePrivateDirectory(prefix: String) throws -> URL {
  let template = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix).XXXXXXXX").path
  var bytes = Array(template.utf8CString)
  guard let made = bytes.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
    throw FileSystemError("cannot create a private folder in \(FileManager.default.temporaryDirectory.path): \(String(cString: strerror(errno)))")
  }
  return URL(fileURLWithPath: String(cString: made))
}

/// Writes `data` to a new file `url` (never through an existing file or link), readable by this user only.
public func writePrivateFile(_ data: Data, to url: URL) throws {
  try writeDurably(data, to: url, mode: 0o600)
}
