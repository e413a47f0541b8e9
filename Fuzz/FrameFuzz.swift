// libFuzzer target over the bytes a peer controls: the frame decoder (and the server's direct
// reading of `start` frames against SwiftProtobuf's), every request message the server decodes
// from a `start`, and the validation of appended entries. Built by dev/fuzz.sh.
import OrchLogWire
import SwiftProtobuf

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // Small frame limit so that length checks are exercised as well as bodies.
    var decoder = FrameDecoder(maxFrameBytes: 4096)
    decoder.append(UnsafeRawBufferPointer(bytes))
    while true {
        let frame: Frame
        do {
            guard let payload = try decoder.nextPayload() else { break }
            let direct = ClientFrame.readCommonStart(payload)
            do {
                frame = try Frame(framePayload: payload)
            } catch {
                // The server's direct reading of a `start` accepts nothing SwiftProtobuf rejects...
                precondition(direct == nil, "read directly but SwiftProtobuf rejects it: \(Array(payload))")
                throw error
            }
            // ...and reads the same values.
            if let (callID, start) = direct {
                guard case .start(let reference) = frame.kind, frame.callID == callID, CallStartFields(reference) == start else {
                    preconditionFailure("direct reading differs from SwiftProtobuf's: \(Array(payload))")
                }
            }
        } catch {
            break
        }
        if case .start(let start) = frame.kind {
            let request = [UInt8](start.request)
            _ = try? Orchlog_V1_AppendLogRequest.decodeUntrusted(request)
            _ = try? Orchlog_V1_AppendLogsRequest.decodeUntrusted(request)
            _ = try? Orchlog_V1_GetLogRequest.decodeUntrusted(request)
            _ = try? Orchlog_V1_StreamChildrenRequest.decodeUntrusted(request)
            _ = try? Orchlog_V1_GetTreeRequest.decodeUntrusted(request)
            if let append = try? Orchlog_V1_AppendLogRequest.decodeUntrusted(request) {
                validate(append.entry, "entry")
            }
            if let batch = try? Orchlog_V1_AppendLogsRequest.decodeUntrusted(request) {
                for (index, entry) in batch.entries.enumerated() { validate(entry, "entries[\(index)]") }
            }
        }
        // Whatever decodes must encode again.
        _ = FrameEncoder.encode(frame)
    }
    _ = LogID.canonical(String(decoding: bytes, as: UTF8.self))
    return 0
}

/// The server's validation of an entry (Sources/OrchLogStore/NewEntry.swift, compiled in).
private func validate(_ entry: LogEntryMessage, _ path: String) {
    _ = try? NewEntry.validate(entry, fieldPath: path, maxContentBytes: 1024)
}
