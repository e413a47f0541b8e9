import ArgumentParser

/// `orchlog-grpc-load`: drives `orchlog-grpc-peer` with grpc-swift 2 clients and prints exactly
/// one JSON object on stdout per run (progress goes to stderr). `orchlog-bench --peer` parses
/// that JSON: keep the subcommand names and the keys as they are.
@main
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchlog-grpc-load",
        abstract: "Load generator for orchlog-grpc-peer (gRPC over HTTP/2, one GRPCClient per connection).",
        subcommands: [
            AppendCommand.self, HealthCommand.self, GetCommand.self, FollowCommand.self,
            ChildrenCommand.self, IdleCommand.self,
        ]
    )
}
