/// Per-call settings.
public struct CallOptions: Sendable {
    /// The deadline of the whole call, every retry and reconnect included; `nil` uses the
    /// client's `defaultTimeout`.
    public var timeout: Duration?
    /// Sent with each attempt as `CallStart.metadata`.
    public var metadata: [String: String]

    public init(timeout: Duration? = nil, metadata: [String: String] = [:]) {
        self.timeout = timeout
        self.metadata = metadata
    }

    public static let defaults = CallOptions()
}
