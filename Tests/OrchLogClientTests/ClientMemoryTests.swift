import Foundation
import OrchLogClient
import OrchLogTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How much the client itself keeps per call, measured on this process with orchlogd as another
/// process (so that only the client's memory counts).
@Suite("Client memory", .serialized)
struct ClientMemoryTests {
    /// Set by dev/test.sh for the sanitizer runs, where freed memory stays resident.
    static let underSanitizer = ProcessInfo.processInfo.environment["ORCHLOG_SANITIZER"] != nil

    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    @Test("a call that has ended keeps nothing for its deadline, however far away",
          .disabled(if: Self.underSanitizer, "freed memory stays resident under a sanitizer"))
    func endedCallsKeepNoDeadline() async throws {
        let directory = TemporaryDirectory()
        let server = try OrchlogdProcess(db: directory.file("test.db"))
        var configuration = OrchLogClient.Configuration.fastTest()
        configuration.defaultTimeout = .seconds(3600)
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: configuration)

        func calls(_ count: Int) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { for _ in 0..<(count / 8) { _ = try await client.health() } }
                }
                try await group.waitForAll()
            }
        }
        try await calls(4_000)
        let before = Self.residentBytes()
        try await calls(80_000)
        let grown = Self.residentBytes() - before
        // Before, each call left a timer work item that libdispatch kept until the deadline.
        #expect(grown < 8 * 1_048_576, "80,000 ended calls grew the client by \(grown / 1024) KiB")
        await client.close()
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }
}
