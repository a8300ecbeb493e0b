#!/usr/bin/env bash
# Regenerates the Swift for runner's two .proto subsets:
#   Sources/TensorBoard/Proto/tensorboard.proto -> Sources/TensorBoard/Generated/tensorboard.pb.swift
#   Sources/ONNX/Proto/onnx.proto               -> Sources/ONNX/Generated/onnx.pb.swift
# The generated files are committed, so a build needs neither protoc nor the plugin; run this
# only after changing a .proto.
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the same
# swift-protobuf version the package depends on (1.39.0; about a minute on 2 cores):
#   git clone <swift-protobuf> && cd swift-protobuf && git checkout 1.39.0 &&
#   swift build -c release --product protoc-gen-swift
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
[ -x "$plugin" ] || { echo "set PROTOC_GEN_SWIFT to the protoc-gen-swift binary" >&2; exit 1; }
for module in TensorBoard ONNX; do
  proto=$(ls Sources/$module/Proto/*.proto)
  protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public \
    -I Sources/$module/Proto -I /usr/include \
    --swift_out=Sources/$module/Generated $proto
  echo "wrote Sources/$module/Generated/$(basename "$proto" .proto).pb.swift"
done
