extension OrchLogClient {
    /// Client-wide settings; every field has a default suited to a worker on a LAN.
    public struct Configuration: Sendable {
        /// The deadline of a call when its `CallOptions` give none; `nil` waits forever.
        /// Follow streams never use it.
        public var defaultTimeout: Duration? = .seconds(30)
        public var retryPolicy = RetryPolicy()
        /// Shared by every call of this client.
        public var retryThrottle = RetryThrottle()
        public var connectionBackoff = ConnectionBackoff()
        /// `true`: a call waits (until its deadline) while the client reconnects to a server that
        /// is down or restarting. `false`: a failed connect fails the attempt at once with
        /// UNAVAILABLE, which the retry policy may retry (good for command-line tools).
        public var waitsForConnection = true
        /// Messages a stream may have in flight; the client grants more as the consumer reads.
        public var streamWindow: UInt32 = 256
        /// Sent in `hello`.
        public var clientName = "orchlog-swift"
        public var authToken: String?
        /// Test hook, not API: called with the method and attempt number before each attempt.
        public var _attemptObserver: (@Sendable (String, Int) -> Void)?
        /// Test hook, not API: the first call id of each connection (to reach the last id,
        /// 2^32 − 1, without making 4 billion calls).
        public var _firstCallID: UInt32 = 1

        public init() {}
    }
}
