/// The error every client call throws: the status code (gRPC names), the server's message, and
/// the underlying error when the failure was local (a socket, a decode).
public struct OrchLogError: Error, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    /// The server said a retry may succeed (`CallEnd.details["retryable"]`).
    public var serverSaysRetryable: Bool
    /// What failed locally, if anything.
    public var cause: (any Error & Sendable)?
    /// Whether the server sent this status (a call's `end`, or a `goaway`), rather than the
    /// client concluding it (a failed connect, a lost connection, a deadline with no answer).
    public var isFromServer = false

    public init(code: StatusCode, message: String, serverSaysRetryable: Bool = false, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.serverSaysRetryable = serverSaysRetryable
        self.cause = cause
    }

    public var description: String { "\(self.code.name): \(self.message)" }

    func withMessage(_ message: String) -> OrchLogError {
        var error = self
        error.message = message
        return error
    }

    static func unavailable(_ message: String, cause: (any Error & Sendable)? = nil) -> OrchLogError {
        OrchLogError(code: .unavailable, message: message, cause: cause)
    }

    static func deadlineExceeded(_ message: String) -> OrchLogError {
        OrchLogError(code: .deadlineExceeded, message: message)
    }

    static let cancelled = OrchLogError(code: .cancelled, message: "the call was cancelled by the client")
}
