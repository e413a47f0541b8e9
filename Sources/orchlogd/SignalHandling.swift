import Dispatch
import Logging
import OrchLogServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGTERM and SIGINT drain the server and exit 0; a second signal exits at once with 1.
final class SignalHandling: Sendable {
    private let server: OrchLogServer
    private let logger: Logger
    nonisolated(unsafe) private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "orchlogd.signals")

    init(server: OrchLogServer, logger: Logger) {
        self.server = server
        self.logger = logger
    }

    /// Returns once Dispatch watches both signals, so that one sent after orchlogd says it is
    /// listening is never missed.
    func install() {
        // Blocked, not ignored: a signal that arrives before Dispatch has registered its source
        // then waits, pending, where an ignored one would be dropped. Blocked is also what
        // Dispatch needs on Linux: its signal source reads the pending signal from a signalfd
        // (`strace -e signalfd4` shows one per signal). Threads created later inherit the mask,
        // and Dispatch's and the event loops' threads block signals anyway.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let registered = DispatchGroup()
        self.queue.sync {
            var received = 0
            for signo in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: signo, queue: self.queue)
                registered.enter()
                source.setRegistrationHandler { registered.leave() }
                source.setEventHandler {
                    received += 1
                    if received > 1 {
                        self.logger.warning("second signal: exiting without finishing the drain")
                        exit(1)
                    }
                    self.logger.info("signal \(signo): shutting down")
                    self.server.shutdown {
                        self.logger.info("stopped")
                        exit(0)
                    }
                }
                source.resume()
                self.sources.append(source)
            }
        }
        registered.wait()
    }
}
