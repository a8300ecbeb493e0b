#!/usr/bin/env bash
# The README's first command: installs what is missing, builds runner (release), and trains the
# built-in digits demo. Extra arguments go to runner (e.g. --restart).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/setup.sh
swift build -c release --product runner
.build/release/runner configs/digits.yaml "$@"
