extension Bench {
    /// Issue 5's targets, each judged from this run's figures (ratios against same-run baselines).
    func judgeTargets() {
        let r = self.report
        func ratio(_ a: String, _ b: String) -> Double? {
            guard let x = r.value(a), let y = r.value(b), y > 0 else { return nil }
            return x / y
        }
        let c = self.sizes.ceilingConnections
        let appendTop = "append-durable/orchlog/\(self.sizes.appendConnections.last ?? 64)c-1x/v7"
        r.check("append-durable 64 conns v7 ≥ 50,000 appends/s", r.value(appendTop), atLeast: 50_000)
        r.check("append-durable 64 conns ≥ 0.6× SQLite 64-row transactions",
                ratio(appendTop, "append-durable/sqlite/64-per-tx"), atLeast: 0.6, format: Report.ratio)
        r.check("append-durable 64 conns ≥ 8× SQLite one-row transactions",
                ratio(appendTop, "append-durable/sqlite/1-per-tx"), atLeast: 8, format: Report.ratio)
        r.check("append-durable 64 conns p99 ≤ 10 ms", r.measurement(appendTop)?.p99Micros.map { $0 / 1000 },
                atMost: 10, format: { String(format: "%.2f ms", $0) })
        let fasterRedis = self.redisThreadCounts.map { RedisBaseline.key(pipeline: 1, threads: $0) }
            .max { (r.value($0) ?? 0) < (r.value($1) ?? 0) }
        r.check("Health \(c) conns ≥ 1.0× redis GET -c 50",
                fasterRedis.flatMap { ratio("rpc-ceiling/orchlog/health/\(c)c-1x", $0) }, atLeast: 1, format: Report.ratio)
        r.check("Health 1 conn × \(self.sizes.ceilingInFlight) in flight ≥ 500,000 calls/s",
                r.value("rpc-ceiling/orchlog/health/1c-\(self.sizes.ceilingInFlight)x"), atLeast: 500_000)
        if let health = r.measurement("rpc-ceiling/orchlog/health/1c-1x")?.p50Micros,
           let ping = r.measurement("rpc-ceiling/pingpong/1c-1x")?.p50Micros, ping > 0
        {
            r.check("Health 1 conn lockstep p50 ≤ 1.5× bare ping-pong p50", health / ping, atMost: 1.5, format: Report.ratio)
        }
        r.check("follow p99 delivery ≤ 1 ms after the append's OK",
                r.measurement("follow/orchlog/delivery")?.p99Micros.map { $0 / 1000 }, atMost: 1,
                format: { String(format: "%.3f ms", $0) })
        r.check("GetTree ≤ 1.0× the recursive CTE (time)", ratio("tree/orchlog", "tree/sqlite"), atMost: 1, format: Report.ratio)
        r.check("memory: idle connections ≤ 40 MiB RSS", r.value("memory/orchlog/idle-connections"), atMost: 40,
                format: { String(format: "%.1f MiB", $0) })
        r.check("memory: never-reading followers add ≤ 32 MiB", r.value("memory/orchlog/silent-followers"), atMost: 32,
                format: { String(format: "%.1f MiB", $0) })
        r.check("startup ≤ 200 ms", r.value("startup/orchlog/open"), atMost: 200, format: { String(format: "%.0f ms", $0) })
        self.judgePeerTargets()
    }
}
