import OrchLogWire

/// A token bucket that stops retries while the server keeps failing (gRPC A6 throttling).
///
/// It starts full at `maxTokens`. Each failed attempt with a retryable code takes one token;
/// each success gives back `tokenRatio`. Retries are allowed only while more than half the
/// tokens remain. Counted in thousandths, so the arithmetic is exact.
public final class RetryThrottle: Sendable {
    public let maxTokens: Int
    public let tokenRatio: Double
    private let milliTokens: Locked<Int>

    /// - Precondition: `maxTokens` in 1...1000, `tokenRatio` in (0, 1].
    public init(maxTokens: Int = 10, tokenRatio: Double = 0.1) {
        precondition((1...1000).contains(maxTokens), "maxTokens must be 1...1000")
        precondition(tokenRatio > 0 && tokenRatio <= 1, "tokenRatio must be in (0, 1]")
        self.maxTokens = maxTokens
        self.tokenRatio = tokenRatio
        self.milliTokens = Locked(maxTokens * 1000)
    }

    /// Whether a retry may be attempted now.
    public var isRetryPermitted: Bool {
        self.milliTokens.withLock { $0 > self.maxTokens * 500 }
    }

    func recordFailure() {
        self.milliTokens.withLock { $0 = max(0, $0 - 1000) }
    }

    func recordSuccess() {
        let ratio = Int((self.tokenRatio * 1000).rounded())
        self.milliTokens.withLock { $0 = min(self.maxTokens * 1000, $0 + ratio) }
    }
}
