// The errors of the study layer: one shape, a message with the context where it arose (outermost
// first), so that callers add context (`within`) instead of wrapping messages in messages. A plan
// that cannot be used is a `PlanError`; a study that cannot go on (a stage that failed, a run
// directory without what the study needs, a measurement that gave nothing) is a `StudyError`.
import Foundation
import MaskDM
import Training

/// An error with a context chain: "plan demo.yaml line 14 › ablation Mask Type › replacement 'block': …".
public protocol ContextualError: Error, CustomStringConvertible {
  var message: String { get }
  /// Where the error is, outermost first.
  var context: [String] { get set }
}

extension ContextualError {
  public var description: String { context.isEmpty ? message : context.joined(separator: " › ") + ": " + message }

  /// The error with `places` before the context it has.
  public func within(_ places: [String]) -> Self {
    var e = self
    e.context = places + context
    return e
  }
}

/// A plan that cannot be used; the message names the key and the fix.
public struct PlanError: ContextualError, Equatable {
  public let message: String
  public var context: [String] = []
  public init(_ message: String, context: [String] = []) { (self.message, self.context) = (message, context) }
}

/// A study that cannot go on for a reason other than its plan; the message names what to do.
public struct StudyError: ContextualError, Equatable {
  public let message: String
  public var context: [String] = []
  public init(_ message: String, context: [String] = []) { (self.message, self.context) = (message, context) }
}

/// `body`'s result; an error of the study layer it throws gets `places` as its context, and a
/// configuration or model error becomes a plan error there (a plan's setting or value caused it).
func within<T>(_ places: [String], _ body: () throws -> T) throws -> T {
  do { return try body() } catch let e as PlanError { throw e.within(places) } catch let e as StudyError {
    throw e.within(places)
  } catch let e as ConfigError { throw PlanError(e.message, context: places) } catch let e as ModelError {
    throw PlanError(e.message, context: places)
  }
}
