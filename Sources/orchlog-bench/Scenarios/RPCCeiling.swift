import Foundation
import OrchLogWire

extension Bench {
    /// Health (no storage) and GetLog: many connections in lockstep, one connection with many
    /// calls in flight, and one in lockstep against a bare ping-pong of the same byte counts;
    /// redis-server's GET as the baseline of a small fast server.
    func rpcCeiling() throws {
        let server = try self.startServer("rpc-ceiling")
        defer { server.stop() }
        let setup = try self.connect(server)
        let root = try self.appendRoot(on: setup, content: "rpc-ceiling")
        let health = Orchlog_V1_HealthRequest().encodedBytes()
        let get = Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = root }.encodedBytes()
        let calls: [(name: String, method: String, request: [UInt8])] = [
            ("health", MethodPath.health, health), ("get", MethodPath.getLog, get),
        ]
        // Lockstep at the append scenario's connection counts (the chart's x axis), then pipelined.
        var shapes = Set(self.sizes.appendConnections + [self.sizes.ceilingConnections]).sorted().map {
            (connections: $0, inFlight: 1)
        }
        shapes.append((connections: 1, inFlight: self.sizes.ceilingInFlight))
        for call in calls {
            for shape in shapes {
                let load = CallLoad(
                    method: call.method, connections: shape.connections, inFlight: shape.inFlight,
                    threads: self.clientThreads, warmupSeconds: self.sizes.warmupSeconds, seconds: self.sizes.seconds,
                    port: server.port, serverPID: server.pid, makeRequest: { _ in call.request }
                )
                self.report.add(
                    "rpc-ceiling/orchlog/\(call.name)/\(shape.connections)c-\(shape.inFlight)x", system: "orchlog",
                    label: "orchlog \(call.name == "health" ? "Health" : "GetLog") \(shape.connections) conn × \(shape.inFlight) in flight",
                    result: try load.run()
                )
            }
        }

        // The same byte counts as one Health call, with nothing but read and write.
        let healthInfo = try setup.unary(MethodPath.health, Orchlog_V1_HealthRequest(), as: Orchlog_V1_HealthResponse.self)
        var request: [UInt8] = [], response: [UInt8] = []
        FrameEncoder.encodeStart(callID: 1, method: MethodPath.health, request: health, into: &request)
        FrameEncoder.encodeMessage(callID: 1, payload: healthInfo.encodedBytes(), into: &response)
        FrameEncoder.encodeEnd(callID: 1, status: .ok, into: &response)
        let (requestBytes, responseBytes) = (request.count, response.count)
        self.report.add(
            "rpc-ceiling/pingpong/1c-1x", system: "pingpong",
            label: "bare TCP ping-pong \(requestBytes) B → \(responseBytes) B, lockstep",
            result: try PingPong.run(requestBytes: requestBytes, responseBytes: responseBytes, seconds: self.sizes.seconds)
        )

        guard let redis = RedisBaseline(directory: self.redisDir) else {
            self.report.skip("redis baseline: redis-server/redis-benchmark not in \(self.redisDir) (apt-get install redis-server)")
            return
        }
        for pipeline in [1, 16] {
            for threads in self.redisThreadCounts {
                let figure = try redis.run(
                    clients: 50, pipeline: pipeline, threads: threads,
                    requests: self.sizes.redisRequests * (pipeline == 1 ? 1 : 4)
                )
                let options = (pipeline > 1 ? " -P \(pipeline)" : "") + (threads > 1 ? " --threads \(threads)" : "")
                self.report.add(Measurement(
                    key: RedisBaseline.key(pipeline: pipeline, threads: threads), scenario: "rpc-ceiling", system: "redis",
                    label: "redis-benchmark -t get -c 50\(options)",
                    value: figure.requestsPerSecond, unit: "ops/s", p50Micros: figure.p50Micros, p99Micros: figure.p99Micros
                ))
            }
        }
    }
}
