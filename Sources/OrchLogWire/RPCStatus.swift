/// A status code with a human-readable message: what ends a call, and the error every layer
/// throws when a request cannot be served.
///
/// Domain errors are mapped to an `RPCStatus` where they arise, so the server has exactly one
/// boundary that turns errors into `end` frames.
package struct RPCStatus: Error, Equatable, Sendable, CustomStringConvertible {
    package var code: StatusCode
    package var message: String
    /// Sent as `CallEnd.details`; `retryable: true` tells clients a retry may succeed
    /// (docs/PROTOCOL.md).
    package var details: [String: String]

    package init(_ code: StatusCode, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// The detail key that marks a status as worth retrying.
    package static let retryableDetail = "retryable"

    package static let ok = RPCStatus(.ok, "")

    package static func invalidArgument(_ message: String) -> RPCStatus { .init(.invalidArgument, message) }
    package static func notFound(_ message: String) -> RPCStatus { .init(.notFound, message) }
    package static func failedPrecondition(_ message: String) -> RPCStatus { .init(.failedPrecondition, message) }
    package static func alreadyExists(_ message: String) -> RPCStatus { .init(.alreadyExists, message) }
    package static func unavailable(_ message: String) -> RPCStatus { .init(.unavailable, message) }
    package static func `internal`(_ message: String) -> RPCStatus { .init(.internal, message) }

    package var description: String { "\(self.code.name): \(self.message)" }
}
