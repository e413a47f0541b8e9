#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Entry ids: UUIDs in canonical lowercase text (8-4-4-4-12), as stored in the table.
package enum LogID {
    /// The canonical lowercase form of `text` if it is a UUID in 8-4-4-4-12 hex form (any case),
    /// else `nil`. Text that is already canonical (every id this project's clients generate) is
    /// returned as it is, without a copy.
    package static func canonical(_ text: String) -> String? {
        var hasUppercase = false
        var count = 0
        for c in text.utf8 {
            switch count {
            case 36:
                return nil
            case 8, 13, 18, 23:
                guard c == UInt8(ascii: "-") else { return nil }
            default:
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"):
                    break
                case UInt8(ascii: "A")...UInt8(ascii: "F"):
                    hasUppercase = true
                default:
                    return nil
                }
            }
            count += 1
        }
        guard count == 36 else { return nil }
        guard hasUppercase else { return text }
        return String(decoding: text.utf8.map { c in (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(c) ? c + 32 : c }, as: UTF8.self)
    }

    /// A new UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter that keeps ids
    /// from one process strictly increasing within a millisecond, then 62 random bits.
    package static func generateV7() -> String {
        let (millis, counter) = v7Clock.withLock { $0.tick() }
        var rng = SystemRandomNumberGenerator()
        let random: UInt64 = rng.next()
        // Bytes 0–5 the milliseconds, 6–7 version 7 and the counter, 8 the variant (10) and then
        // random bits to the end.
        let high = (millis & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | UInt64(counter & 0x0FFF)
        let low = 0x8000_0000_0000_0000 | (random & 0x3FFF_FFFF_FFFF_FFFF)
        return format(high: high, low: low)
    }

    /// A random UUIDv4, for comparisons against v7 (benchmarks, tests).
    package static func generateV4() -> String {
        var rng = SystemRandomNumberGenerator()
        let high = (rng.next() as UInt64) & 0xFFFF_FFFF_FFFF_0FFF | 0x4000
        let low = 0x8000_0000_0000_0000 | ((rng.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF)
        return format(high: high, low: low)
    }

    /// A UUID's 128 bits (`high` holds its first 8 bytes, big-endian) as canonical lowercase
    /// text, written straight into the string's storage.
    package static func format(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { text in
            var out = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    text[out] = UInt8(ascii: "-")
                    out += 1
                }
                let word = nibble < 16 ? high : low
                let digit = UInt8(truncatingIfNeeded: word >> UInt64(60 - 4 * (nibble % 16))) & 0x0F
                text[out] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
                out += 1
            }
            return out
        }
    }
}

/// Milliseconds plus a counter, so that v7 ids generated in one millisecond still sort in order.
private struct V7Clock {
    private var lastMillis: UInt64 = 0
    private var counter: UInt16 = 0

    mutating func tick() -> (millis: UInt64, counter: UInt16) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var now = UInt64(max(0, ts.tv_sec)) * 1000 + UInt64(ts.tv_nsec / 1_000_000)
        if now <= self.lastMillis {
            // Same millisecond (or the clock stepped back): keep counting on the last timestamp.
            now = self.lastMillis
            if self.counter == 0x0FFF {
                now += 1
                self.counter = 0
            } else {
                self.counter += 1
            }
        } else {
            var rng = SystemRandomNumberGenerator()
            self.counter = UInt16.random(in: 0...0x03FF, using: &rng)
        }
        self.lastMillis = now
        return (now, self.counter)
    }
}

private let v7Clock = Locked(V7Clock())

/// Parses an id field of a request into canonical form.
///
/// - Throws: INVALID_ARGUMENT naming `field` when it is absent or not a UUID.
package func canonicalID(_ text: String?, field: String) throws(RPCStatus) -> String {
    guard let text else { throw .invalidArgument("\(field): required") }
    guard let id = LogID.canonical(text) else {
        throw .invalidArgument("\(field): \"\(text.excerpt(maxBytes: 64))\" is not a UUID (8-4-4-4-12 hex digits)")
    }
    return id
}
