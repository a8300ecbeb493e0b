#!/usr/bin/env bash
# Training speed of airbench94's network, runner against the PyTorch peer (bench/airbench_peer.py),
# at batch 1024 on synthetic data (forward, backward, SGD step), alternating runner / peer in
# every round; then the medians, seconds per 50,000-image epoch and the ratio. Same precision on
# both sides: bf16 (runner's bf16, PyTorch's CPU autocast) where the CPU has AVX512-BF16, and
# fp32 at AVX2 for both (RUNNER_CPU=avx2, ONEDNN_MAX_CPU_ISA=AVX2).
#
#   bench/airbench-side-by-side.sh [ROUNDS]     (default 3; torch from $PEERS_PYTHON)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
python=${PEERS_PYTHON:-python3}
steps=${STEPS:-8}
swift build -c release --product runner >/dev/null
runner=.build/release/runner
results=$(mktemp -d)
level=$("$runner" bench configs/digits.yaml --steps 1 --warmup 0 --repeats 1 --json | sed -n 's/^RESULT .*"cpu_level": "\([a-z0-9]*\)".*/\1/p')
rows="fp32-avx2"
if [ "$level" = avx512bf16 ]; then rows="bf16-native $rows"; fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); runner's level: $level; $(nproc) cores; $steps steps × 3 repeats per measurement"
measure() {  # ROW SIDE ROUND
  local row=$1 side=$2 out="$results/$1.$2.$3" precision=${1%%-*} isa=()
  if [ "$row" = fp32-avx2 ]; then isa=(env RUNNER_CPU=avx2 ONEDNN_MAX_CPU_ISA=AVX2); fi
  if [ "$side" = runner ]; then
    "${isa[@]}" "$runner" bench configs/cifar10_airbench.yaml --precision "$precision" --steps "$steps" --warmup 3 --repeats 3 --json
  else
    "${isa[@]}" "$python" bench/airbench_peer.py --data unused --precision "$precision" --bench-steps "$steps" --bench-repeats 3
  fi | grep '^RESULT ' | sed 's/^RESULT //' > "$out.json"
  echo "round $3: $row $side $(cat "$out.json" | cut -c1-160)"
}
for round in $(seq 1 "$rounds"); do
  for row in $rows; do measure "$row" runner "$round"; measure "$row" peer "$round"; done
done
"$python" - "$results" "$rows" <<'EOF'
import glob, json, statistics, sys
folder, rows = sys.argv[1], sys.argv[2].split()
def rate(path):
    result = json.load(open(path))
    return result.get("train_images_per_second") or result["train_img_s"]
print(f"{'row':12} {'runner img/s':>13} {'peer img/s':>11} {'runner s/epoch':>15} {'peer s/epoch':>13} {'ratio':>6}")
for row in rows:
    runner = statistics.median(rate(p) for p in glob.glob(f"{folder}/{row}.runner.*.json"))
    peer = statistics.median(rate(p) for p in glob.glob(f"{folder}/{row}.peer.*.json"))
    print(f"{row:12} {runner:13.1f} {peer:11.1f} {50000 / runner:15.1f} {50000 / peer:13.1f} {runner / peer:6.2f}x")
EOF
