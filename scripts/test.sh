#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every test (Swift Testing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/setup.sh
swift build --build-tests
swift test --skip-build --disable-xctest
