/// How the client reconnects, after gRPC's connection backoff: the n-th consecutive failed
/// connect waits `min(initial × multiplier^(n-1), max)` ± `jitter`, and each connect attempt may
/// take `max(minConnectTimeout, that backoff)`.
public struct ConnectionBackoff: Sendable {
    public var initial: Duration
    public var multiplier: Double
    /// Relative spread, 0.2 = ±20 %.
    public var jitter: Double
    public var max: Duration
    public var minConnectTimeout: Duration

    public init(
        initial: Duration = .seconds(1), multiplier: Double = 1.6, jitter: Double = 0.2,
        max: Duration = .seconds(120), minConnectTimeout: Duration = .seconds(20)
    ) {
        precondition(initial > .zero && max >= initial, "need 0 < initial <= max")
        precondition(multiplier >= 1 && (0...1).contains(jitter), "need multiplier >= 1 and jitter in 0...1")
        self.initial = initial
        self.multiplier = multiplier
        self.jitter = jitter
        self.max = max
        self.minConnectTimeout = minConnectTimeout
    }

    /// The wait after `failures` consecutive failed connects (1 or more).
    func delay(afterFailures failures: Int) -> Duration {
        let base = Swift.min(self.initial.seconds * pow(self.multiplier, Double(failures - 1)), self.max.seconds)
        return .seconds(Swift.max(0, base * (1 + Double.random(in: -self.jitter...self.jitter))))
    }

    func connectTimeout(afterFailures failures: Int) -> Duration {
        let base = failures == 0 ? self.initial.seconds : Swift.min(self.initial.seconds * pow(self.multiplier, Double(failures - 1)), self.max.seconds)
        return .seconds(Swift.max(self.minConnectTimeout.seconds, base))
    }
}

import Foundation
