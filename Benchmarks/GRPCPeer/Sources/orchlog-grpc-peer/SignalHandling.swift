import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGTERM and SIGINT: begin the graceful shutdown, and abandon what is still running after the
/// grace period; a second signal exits at once with 1 (as orchlogd does).
final class SignalHandling: Sendable {
    private let logger: Logger
    private let onSignal: @Sendable () -> Void
    private let onGraceExpired: @Sendable () -> Void
    nonisolated(unsafe) private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "orchlog-grpc-peer.signals")

    init(logger: Logger, onSignal: @escaping @Sendable () -> Void, onGraceExpired: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.onSignal = onSignal
        self.onGraceExpired = onGraceExpired
    }

    func install(graceMillis: Int) {
        self.queue.sync {
            nonisolated(unsafe) var received = 0
            for signo in [SIGTERM, SIGINT] {
                signal(signo, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signo, queue: self.queue)
                source.setEventHandler {
                    received += 1
                    if received > 1 {
                        self.logger.warning("second signal: exiting without finishing the drain")
                        exit(1)
                    }
                    self.logger.info("signal \(signo): shutting down")
                    self.onSignal()
                    self.queue.asyncAfter(deadline: .now() + .milliseconds(graceMillis)) { self.onGraceExpired() }
                }
                source.resume()
                self.sources.append(source)
            }
        }
    }
}
