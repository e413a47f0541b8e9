import OrchLogWire
import Testing

@Suite("LogID")
struct LogIDTests {
    @Test("canonical form lowercases valid UUID text")
    func canonical() {
        #expect(LogID.canonical("0190F3A2-7C4B-7D2E-8F00-0123456789AB") == "0190f3a2-7c4b-7d2e-8f00-0123456789ab")
        #expect(LogID.canonical("00000000-0000-0000-0000-000000000000") == "00000000-0000-0000-0000-000000000000")
        #expect(LogID.canonical("0190f3a2-7C4B-7d2e-8f00-0123456789aB") == "0190f3a2-7c4b-7d2e-8f00-0123456789ab")
    }

    @Test("malformed ids are rejected", arguments: [
        "", "not-a-uuid", "0190f3a2-7c4b-7d2e-8f00-0123456789a", "0190f3a2-7c4b-7d2e-8f00-0123456789abc",
        "0190f3a27c4b-7d2e-8f00-0123456789ab0", "0190f3a2-7c4b-7d2e-8f00-0123456789ag", "{0190f3a2-7c4b-7d2e-8f00-01234567}",
        "0190f3a2-7c4b-7d2e-8f00-0123456789ä",
    ])
    func malformed(text: String) {
        #expect(LogID.canonical(text) == nil)
    }

    @Test("v7 ids are canonical, version 7, variant 10, and strictly increasing")
    func v7() {
        var previous = ""
        for _ in 0..<10_000 {
            let id = LogID.generateV7()
            #expect(LogID.canonical(id) == id)
            let chars = Array(id)
            #expect(chars[14] == "7")
            #expect("89ab".contains(chars[19]))
            #expect(id > previous)
            previous = id
        }
    }

    @Test("v7 ids carry the current Unix time in milliseconds")
    func v7Timestamp() {
        let id = LogID.generateV7()
        let hex = id.replacingOccurrences(of: "-", with: "").prefix(12)
        let millis = UInt64(hex, radix: 16)!
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        #expect(millis <= now + 5 && millis + 5000 >= now)
    }

    @Test("v4 ids are canonical with version 4 and variant 10, and random")
    func v4() {
        let id = LogID.generateV4()
        #expect(LogID.canonical(id) == id)
        #expect(Array(id)[14] == "4")
        #expect("89ab".contains(Array(id)[19]))
        #expect(LogID.generateV4() != id)
    }

    @Test("128 bits are written as 8-4-4-4-12 lowercase hex, first byte first")
    func format() {
        #expect(LogID.format(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210) == "01234567-89ab-cdef-fedc-ba9876543210")
        #expect(LogID.format(high: 0, low: 0) == "00000000-0000-0000-0000-000000000000")
        #expect(LogID.format(high: .max, low: .max) == "ffffffff-ffff-ffff-ffff-ffffffffffff")
    }
}

import Foundation
