#!/usr/bin/env bash
# Regenerates Sources/TensorBoard/Generated/tensorboard.pb.swift from
# Sources/TensorBoard/Proto/tensorboard.proto. The generated file is committed, so a build
# needs neither protoc nor the plugin; run this only after changing the .proto.
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the same
# swift-protobuf version the package depends on (1.39.0):
#   git clone <swift-protobuf> && cd swift-protobuf && git checkout 1.39.0 &&
#   swift build -c release --product protoc-gen-swift
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
[ -x "$plugin" ] || { echo "set PROTOC_GEN_SWIFT to the protoc-gen-swift binary" >&2; exit 1; }
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public \
  -I Sources/TensorBoard/Proto -I /usr/include \
  --swift_out=Sources/TensorBoard/Generated Sources/TensorBoard/Proto/tensorboard.proto
echo "wrote Sources/TensorBoard/Generated/tensorboard.pb.swift"
