/// Per-call latencies in nanoseconds; percentiles by nearest rank over the sorted samples.
/// A plain sorted array: a run of a few seconds holds at most a few million samples.
struct Latencies: Sendable {
    private(set) var nanos: [Int64] = []

    init() {}

    mutating func record(_ duration: Duration) {
        self.nanos.append(duration.nanoseconds)
    }

    mutating func record(nanoseconds: Int64) {
        self.nanos.append(nanoseconds)
    }

    mutating func merge(_ other: Latencies) {
        self.nanos += other.nanos
    }

    var count: Int { self.nanos.count }

    /// Sorted once, then read for several percentiles.
    func summary() -> Summary { Summary(sorted: self.nanos.sorted()) }

    struct Summary {
        let sorted: [Int64]

        /// The `p` quantile (0...1) in microseconds; 0 without samples.
        func micros(_ p: Double) -> Double {
            guard !self.sorted.isEmpty else { return 0 }
            let rank = Int((p * Double(self.sorted.count)).rounded(.up)) - 1
            return Double(self.sorted[min(max(rank, 0), self.sorted.count - 1)]) / 1000
        }

        var maxMicros: Double { Double(self.sorted.last ?? 0) / 1000 }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var seconds: Double { Double(self.nanoseconds) / 1e9 }
}
