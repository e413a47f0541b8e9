/// How big each scenario is: the full run of issue 5, or the smoke run of the test command
/// (seconds in all, so the bench never rots; its figures mean nothing).
struct Sizes: Sendable {
    var warmupSeconds: Double
    var seconds: Double
    var sqliteSeconds: Double
    var appendConnections: [Int]
    var pipelinedCalls: Int
    var ceilingConnections: Int
    var ceilingInFlight: Int
    var batchSizes: [Int]
    var followers: Int
    var followAppends: Int
    var followRate: Int
    var treeFanOut: Int
    var treeDepth: Int
    var children: Int
    /// Runs of the tree and children reads (the median is reported).
    var readRepeats: Int
    var idleConnections: Int
    var silentFollowers: Int
    var silentChildren: Int
    var startupRows: Int
    var redisRequests: Int
    var peerSeconds: Double

    static let full = Sizes(
        warmupSeconds: 1, seconds: 5, sqliteSeconds: 3, appendConnections: [1, 16, 64], pipelinedCalls: 64,
        ceilingConnections: 64, ceilingInFlight: 256, batchSizes: [100, 1000],
        followers: 100, followAppends: 10_000, followRate: 2_000,
        treeFanOut: 10, treeDepth: 5, children: 100_000, readRepeats: 5,
        idleConnections: 1_000, silentFollowers: 50, silentChildren: 100_000,
        startupRows: 1_000_000, redisRequests: 500_000, peerSeconds: 5
    )

    static let smoke = Sizes(
        warmupSeconds: 0.05, seconds: 0.2, sqliteSeconds: 0.2, appendConnections: [1, 4], pipelinedCalls: 8,
        ceilingConnections: 4, ceilingInFlight: 16, batchSizes: [10, 100],
        followers: 5, followAppends: 100, followRate: 1_000,
        treeFanOut: 3, treeDepth: 3, children: 1_000, readRepeats: 1,
        idleConnections: 20, silentFollowers: 3, silentChildren: 2_000,
        startupRows: 5_000, redisRequests: 10_000, peerSeconds: 0.5
    )

    /// Nodes of a full tree with this fan-out and depth below its root, root included.
    var treeNodes: Int {
        var total = 1
        var level = 1
        for _ in 0..<self.treeDepth {
            level *= self.treeFanOut
            total += level
        }
        return total
    }
}
