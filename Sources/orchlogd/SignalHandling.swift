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

    func install() {
        self.queue.sync {
            var received = 0
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
                    self.server.shutdown {
                        self.logger.info("stopped")
                        exit(0)
                    }
                }
                source.resume()
                self.sources.append(source)
            }
        }
    }
}
