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
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Writes `data` to `url` atomically: a staging file in the same directory (`StagingName`), fsync,
/// rename. Staging copies of `url` that killed processes left behind are removed first.
public func writeAtomically(_ data: Data, to url: URL) throws {
  StagingName.removeStale(for: url)
  let tmp = StagingName.url(for: url)
  do { try writeDurably(data, to: tmp) } catch {
    unlink(tmp.path)
    throw error
  }
  guard rename(tmp.path, url.path) == 0 else {
    let why = String(cString: strerror(errno))
    unlink(tmp.path)
    throw FileSystemError("cannot move \(tmp.lastPathComponent) to \(url.path): \(why)")
  }
}

/// Writes and fsyncs a file; a full disk or a missing directory is an error naming the file.
func writeDurably(_ data: Data, to url: URL) throws {
  let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
  guard fd >= 0 else { throw FileSystemError("cannot write \(url.path): \(String(cString: strerror(errno)))") }
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
