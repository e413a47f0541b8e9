#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The method a `start` frame names: one of the service's six, or a path this build does not serve.
package enum RPCMethod: Hashable, Sendable {
    case appendLog
    case appendLogs
    case getLog
    case streamChildren
    case getTree
    case health
    /// Any other path, kept for the UNIMPLEMENTED message.
    case unknown(String)

    /// The six served methods.
    package static let served: [RPCMethod] = [.appendLog, .appendLogs, .getLog, .streamChildren, .getTree, .health]

    /// The method at `path` (`CallStart.method`).
    package init(path: String) {
        var path = path
        self = path.withUTF8 { Self(servedPath: UnsafeRawBufferPointer($0)) } ?? .unknown(path)
    }

    /// The served method whose path is exactly these UTF-8 bytes, or nil: a `start` read from the
    /// wire names its method without a String being made.
    package init?(servedPath bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return nil }
        for (method, path) in Self.servedPaths where path.count == bytes.count {
            if path.withUnsafeBytes({ memcmp($0.baseAddress!, base, bytes.count) }) == 0 {
                self = method
                return
            }
        }
        return nil
    }

    /// `CallStart.method` for this method.
    package var path: String {
        switch self {
        case .appendLog: MethodPath.appendLog
        case .appendLogs: MethodPath.appendLogs
        case .getLog: MethodPath.getLog
        case .streamChildren: MethodPath.streamChildren
        case .getTree: MethodPath.getTree
        case .health: MethodPath.health
        case .unknown(let path): path
        }
    }

    private static let servedPaths: [(RPCMethod, [UInt8])] = served.map { ($0, Array($0.path.utf8)) }
}
