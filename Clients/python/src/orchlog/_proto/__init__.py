"""Generated protobuf code for ``proto/orchlog.proto`` (protoc 3.21.12). Not API; do not edit."""
