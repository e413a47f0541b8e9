/// How failed calls are retried, after gRPC's retry design (A6): up to `maxAttempts` attempts,
/// waiting a random time in `0 ..< min(initialBackoff × multiplier^(n-1), maxBackoff)` (full
/// jitter) before attempt n+1, never past the call's deadline.
///
/// Every orchlog call is safe to retry: appends carry an id fixed before the first attempt, so a
/// retry after a lost reply finds the stored entry (`created == false`) instead of adding one.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included: 1...5.
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var backoffMultiplier: Double
    /// Codes worth another attempt. RESOURCE_EXHAUSTED is also retried whenever the server marks
    /// it retryable (too many concurrent calls).
    public var retryableStatusCodes: Set<StatusCode>

    /// - Precondition: `1 <= maxAttempts <= 5`, positive backoffs with `initial <= max`,
    ///   `multiplier >= 1`.
    public init(
        maxAttempts: Int = 5, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5),
        backoffMultiplier: Double = 2, retryableStatusCodes: Set<StatusCode> = [.unavailable]
    ) {
        precondition((1...5).contains(maxAttempts), "maxAttempts must be 1...5")
        precondition(initialBackoff > .zero && maxBackoff >= initialBackoff, "need 0 < initialBackoff <= maxBackoff")
        precondition(backoffMultiplier >= 1, "backoffMultiplier must be >= 1")
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.backoffMultiplier = backoffMultiplier
        self.retryableStatusCodes = retryableStatusCodes
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    func isRetryable(_ error: OrchLogError) -> Bool {
        self.retryableStatusCodes.contains(error.code)
            || (error.code == .resourceExhausted && error.serverSaysRetryable)
    }

    /// The wait before attempt `attempt + 1` (`attempt` starting at 1), with full jitter.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let base = self.initialBackoff.seconds * pow(self.backoffMultiplier, Double(attempt - 1))
        let ceiling = min(base, self.maxBackoff.seconds)
        return .seconds(Double.random(in: 0..<max(ceiling, 1e-6)))
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = self.components
        return Double(s) + Double(atto) / 1e18
    }

    /// Sleeps until `deadline`, however far away: `Task.sleep` traps on a deadline further than
    /// its clock's nanoseconds can hold, so this sleeps a day at a time.
    static func sleep(until deadline: ContinuousClock.Instant) async throws {
        while true {
            let now = ContinuousClock.now
            guard now < deadline else { return }
            try await Task.sleep(until: min(deadline, now.advanced(by: .seconds(86_400))), clock: .continuous)
        }
    }

    /// Whole milliseconds, rounded up, at least 1 and at most 2^32 − 1 (the protocol's
    /// `timeout_ms`, 49.7 days): a longer duration is not an error, only more than can be sent.
    var clampedMilliseconds: UInt32 {
        UInt32(min(Double(UInt32.max), max(1, (self.seconds * 1000).rounded(.up))))
    }
}

import Foundation
