#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/Fuzz*: the spec loader, the checkpoint reader, a checkpoint
# loaded into a plan with its metadata, the CIFAR-10 reader, the event-file reader, the PNG/JPEG
# and IDX readers, predict's image path with a recorded normalisation) with AddressSanitizer and coverage instrumentation, links each
# with libFuzzer's main, and runs it on a copy of its committed seed corpus (Fuzz/corpus/*).
#   scripts/fuzz.sh [RUNS] [TARGET...]   RUNS per target (default 1000000); targets: spec checkpoint
#                                        checkpoint-load cifar events images predict (default: all)
# Stops with a non-zero status at the first crash, timeout (5 s) or sanitizer report, leaving
# the input as .build-fuzz/artifacts/<target>-crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
runs=${1:-1000000}
shift || true
targets=${*:-spec checkpoint checkpoint-load cifar events images predict}
declare -A module=([spec]=FuzzSpec [checkpoint]=FuzzCheckpoint [checkpoint-load]=FuzzCheckpointLoad [cifar]=FuzzCIFAR [events]=FuzzEvents
                   [images]=FuzzImages [predict]=FuzzPredict)
mkdir -p .build-fuzz/artifacts
# One product per build: SwiftPM builds only the last of several --product flags.
for target in $targets; do
  if ! RUNNER_FUZZ=1 swift build --scratch-path .build-fuzz -c debug -Xswiftc -sanitize=fuzzer,address \
      --product "${module[$target]}" >.build-fuzz/build-$target.log 2>&1; then
    echo "fuzz-$target: the build failed:"; tail -20 .build-fuzz/build-$target.log; exit 1
  fi
done
echo "" > .build-fuzz/main.swift
for target in $targets; do
  binary=.build-fuzz/fuzz-$target
  if ! swiftc -sanitize=fuzzer,address -parse-as-library .build-fuzz/main.swift -L .build-fuzz/debug -l"${module[$target]}" \
      -Xlinker -rpath -Xlinker "$PWD/.build-fuzz/debug" -o "$binary" >.build-fuzz/link-$target.log 2>&1; then
    echo "fuzz-$target: linking failed:"; grep -v "Cannot export" .build-fuzz/link-$target.log | tail -20; exit 1
  fi
  corpus=$(mktemp -d)
  cp Fuzz/corpus/$target/* "$corpus"/
  log=.build-fuzz/fuzz-$target.log
  status=0
  ASAN_OPTIONS=detect_leaks=0 "$binary" "$corpus" -runs="$runs" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix=.build-fuzz/artifacts/$target- -print_final_stats=1 >"$log" 2>&1 || status=$?
  rm -rf "$corpus"
  executed=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo ?)
  peak=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo ?)
  if [ "$status" -ne 0 ]; then
    echo "fuzz-$target: FAILED after $executed runs (status $status); see $log"
    grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5
    exit 1
  fi
  echo "fuzz-$target: $executed runs ($rate/s, peak $peak MB), no crash, hang or sanitizer report"
done
