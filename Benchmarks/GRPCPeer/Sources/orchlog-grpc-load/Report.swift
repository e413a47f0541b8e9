#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON value of the one-line result.
enum JSONValue {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    var text: String {
        switch self {
        case .int(let value): return String(value)
        case .double(let value):
            // Three decimals are plenty for µs and ops/s; JSON has no NaN or infinity.
            guard value.isFinite else { return "0" }
            return String((value * 1000).rounded() / 1000)
        case .string(let value):
            var out = "\""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        case .bool(let value): return value ? "true" : "false"
        }
    }
}

/// Prints the one JSON object on stdout, keys in the given order, and flushes it (a direct
/// write: no stdio buffer).
func emitJSON(_ fields: KeyValuePairs<String, JSONValue>) {
    let body = fields.map { "\(JSONValue.string($0.key).text):\($0.value.text)" }.joined(separator: ",")
    writeLine("{" + body + "}", to: 1)
}

/// Progress and errors: standard error only.
func progress(_ message: String) {
    writeLine("orchlog-grpc-load: " + message, to: 2)
}

func writeLine(_ message: String, to fd: Int32) {
    let line = message + "\n"
    _ = line.withCString { write(fd, $0, strlen($0)) }
}

/// Raises the soft open-files limit to the hard one: each connection is a descriptor.
func raiseDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// Ends the process at once (inside a command, `exit` names ArgumentParser's `exit(withError:)`).
func exitNow(_ status: Int32) -> Never {
    exit(status)
}
