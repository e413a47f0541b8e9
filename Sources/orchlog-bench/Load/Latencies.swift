/// Per-operation latencies in nanoseconds, kept whole so percentiles are exact.
struct Latencies {
    private(set) var samples: [UInt64] = []
    private var sorted = true

    init(capacity: Int = 0) { self.samples.reserveCapacity(capacity) }

    var count: Int { self.samples.count }

    mutating func record(_ nanoseconds: UInt64) {
        self.samples.append(nanoseconds)
        self.sorted = false
    }

    mutating func merge(_ other: Latencies) {
        self.samples.append(contentsOf: other.samples)
        self.sorted = false
    }

    /// The value at quantile `q` (0...1) in microseconds, nearest-rank; 0 with no samples.
    mutating func percentileMicros(_ q: Double) -> Double {
        guard !self.samples.isEmpty else { return 0 }
        if !self.sorted {
            self.samples.sort()
            self.sorted = true
        }
        let rank = min(self.samples.count - 1, max(0, Int((q * Double(self.samples.count)).rounded(.up)) - 1))
        return Double(self.samples[rank]) / 1000
    }

    /// p50, p99, p99.9 in microseconds.
    mutating func summary() -> (p50: Double, p99: Double, p999: Double) {
        (self.percentileMicros(0.5), self.percentileMicros(0.99), self.percentileMicros(0.999))
    }
}
