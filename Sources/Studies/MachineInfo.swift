// The machine and versions a study ran with, for the report.
import Engine
import Foundation

/// What the report says about where the numbers were measured.
public struct MachineInfo: Codable, Equatable, Sendable {
  public var cpu: String
  public var cores: Int
  public var memoryGB: Double
  public var os: String
  public var mlx: String
  public var gpu: Bool

  /// This machine.
  public static var current: MachineInfo {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
      .flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
    return MachineInfo(
      cpu: model ?? "unknown CPU", cores: ProcessInfo.processInfo.activeProcessorCount,
      memoryGB: Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824,
      os: ProcessInfo.processInfo.operatingSystemVersionString, mlx: Engine.mlxVersion, gpu: Engine.gpuAvailable)
  }

  public var summary: String {
    String(format: "%@, %d cores, %.0f GB RAM, %@; MLX %@%@", cpu, cores, memoryGB, os, mlx, gpu ? ", GPU available" : ", no GPU")
  }
}
