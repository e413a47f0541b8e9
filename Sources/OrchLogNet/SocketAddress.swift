#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A numeric IPv4 or IPv6 address and port, parsed from `HOST:PORT` (`[::1]:7700` for IPv6).
/// `localhost` means 127.0.0.1; other names are not resolved, so nothing blocks on DNS.
package struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    package enum Family: Sendable { case ipv4, ipv6 }

    package let host: String
    package let port: UInt16
    package let family: Family

    /// Parses `HOST:PORT`.
    /// - Throws: a message naming what is wrong.
    package init(parsing text: String) throws(AddressError) {
        guard let colon = text.lastIndex(of: ":") else { throw AddressError("expected HOST:PORT, got \"\(text)\"") }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = UInt16(portText) else { throw AddressError("invalid port \"\(portText)\" in \"\(text)\"") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        try self.init(host: host, port: port)
    }

    /// An address from a numeric host (or `localhost`) and a port.
    package init(host: String, port: UInt16) throws(AddressError) {
        let numeric = host == "localhost" ? "127.0.0.1" : host
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, numeric, &v4) == 1 {
            self.family = .ipv4
        } else if inet_pton(AF_INET6, numeric, &v6) == 1 {
            self.family = .ipv6
        } else {
            throw AddressError("\"\(host)\" is not a numeric IPv4 or IPv6 address")
        }
        self.host = numeric
        self.port = port
    }

    /// Whether the address only reaches this machine.
    package var isLoopback: Bool {
        self.family == .ipv4 ? self.host.hasPrefix("127.") : self.host == "::1"
    }

    package var description: String { self.family == .ipv6 ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }

    /// Calls `body` with the address as a `sockaddr` of the right family and length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self.family {
        case .ipv4:
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = self.port.bigEndian
            inet_pton(AF_INET, self.host, &addr.sin_addr)
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6:
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = self.port.bigEndian
            inet_pton(AF_INET6, self.host, &addr.sin6_addr)
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    var socketFamily: Int32 { self.family == .ipv4 ? AF_INET : AF_INET6 }
}

/// A `HOST:PORT` that cannot be used, with the reason.
package struct AddressError: Error, CustomStringConvertible, Sendable {
    package let description: String
    init(_ description: String) { self.description = description }
}
