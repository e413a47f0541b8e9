import GRPCCore
import OrchLogWire

/// The six RPCs of `orchlog.v1.OrchestrationLog` as grpc-swift 2 method descriptors, with the
/// request and response types and codecs of each.
///
/// Written by hand instead of generated: building protoc-gen-grpc-swift-2 (and protoc) is not
/// worth it for six methods, and `RPCRouter.registerHandler` / `GRPCClient.unary` take exactly
/// what the generated code would pass. The messages are orchlog's own generated `Orchlog_V1_*`
/// types, so both servers speak the same protobuf payloads.
package enum OrchLogMethods {
    package static let service = ServiceDescriptor(fullyQualifiedService: MethodPath.service)

    package enum AppendLog {
        package typealias Input = Orchlog_V1_AppendLogRequest
        package typealias Output = Orchlog_V1_AppendLogResponse
        package static let descriptor = MethodDescriptor(service: service, method: "AppendLog", type: .unary)
    }

    package enum AppendLogs {
        package typealias Input = Orchlog_V1_AppendLogsRequest
        package typealias Output = Orchlog_V1_AppendLogsResponse
        package static let descriptor = MethodDescriptor(service: service, method: "AppendLogs", type: .unary)
    }

    package enum GetLog {
        package typealias Input = Orchlog_V1_GetLogRequest
        package typealias Output = Orchlog_V1_LogEntry
        package static let descriptor = MethodDescriptor(service: service, method: "GetLog", type: .unary)
    }

    package enum StreamChildren {
        package typealias Input = Orchlog_V1_StreamChildrenRequest
        package typealias Output = Orchlog_V1_LogEntry
        package static let descriptor = MethodDescriptor(
            service: service, method: "StreamChildren", type: .serverStreaming
        )
    }

    package enum GetTree {
        package typealias Input = Orchlog_V1_GetTreeRequest
        package typealias Output = Orchlog_V1_TreeNode
        package static let descriptor = MethodDescriptor(service: service, method: "GetTree", type: .serverStreaming)
    }

    package enum Health {
        package typealias Input = Orchlog_V1_HealthRequest
        package typealias Output = Orchlog_V1_HealthResponse
        package static let descriptor = MethodDescriptor(service: service, method: "Health", type: .unary)
    }
}
