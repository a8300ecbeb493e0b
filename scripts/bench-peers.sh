#!/usr/bin/env bash
# Side-by-side benchmark of the seed model (batch 128, synthetic data): runner's `bench` in bf16
# and in fp32, ../shared/bench's TensorFlow script (`--mode fn`) and, when torch is installed,
# its PyTorch script (eager, channels_last) — alternating A B C D A B C D ... in one session,
# then the medians and their ratios to TensorFlow. These machines are shared and noisy: only a
# ratio measured this way means something.
#   scripts/bench-peers.sh [ROUNDS]        (default 3; TensorFlow/PyTorch from $PEERS_PYTHON)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
peers=${PEERS_DIR:-../shared/bench/peers}
python=${PEERS_PYTHON:-python3}
swift build -c release --product runner >/dev/null
results=$(mktemp -d)
contenders="runner-bf16 runner-fp32 tensorflow"
if "$python" -c "import torch" 2>/dev/null; then contenders="$contenders pytorch"; fi
measure() {  # NAME ROUND: one run, its RESULT json and its peak RSS (KiB, from GNU time)
  local name=$1 round=$2 out="$results/$1.$2"
  case $name in
    runner-*) /usr/bin/time -f "%M" -o "$out.rss" .build/release/runner bench configs/cifar10_seed.yaml --precision "${name#runner-}" \
                --batch 128 --steps 40 --warmup 5 --repeats 1 --json ;;
    tensorflow) (cd "$peers" && /usr/bin/time -f "%M" -o "$out.rss" "$python" tf_seed_model.py --mode fn 2>/dev/null) ;;
    pytorch) (cd "$peers" && /usr/bin/time -f "%M" -o "$out.rss" "$python" torch_seed_model.py --channels-last 2>/dev/null) ;;
  esac | grep '^RESULT ' | sed 's/^RESULT //' > "$out.json"
  echo "round $round: $name $(cat "$out.json")"
}
for round in $(seq 1 "$rounds"); do
  for name in $contenders; do measure "$name" "$round"; done
done
python3 - "$results" "$rounds" $contenders <<'PY'
import json, statistics, sys
folder, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
m = statistics.median
def values(name, key):
    return [json.load(open(f"{folder}/{name}.{r}.json"))[key] for r in range(1, rounds + 1)]
def rss(name):
    return [int(open(f"{folder}/{name}.{r}.rss").read().split()[-1]) / 1024 for r in range(1, rounds + 1)]
tf = {k: m(values("tensorflow", k)) for k in ("train_img_s", "infer_img_s")}
tf_rss = m(rss("tensorflow"))
print(f"medians of {rounds} alternating rounds (seed model, batch 128, this machine's cores); ratio = ÷ TensorFlow")
print(f"  {'':12} {'train img/s':>12} {'ratio':>6} {'infer img/s':>12} {'ratio':>6} {'peak RSS MiB':>13} {'ratio':>6}")
for name in names:
    train, infer, peak = m(values(name, "train_img_s")), m(values(name, "infer_img_s")), m(rss(name))
    print(f"  {name:12} {train:12.1f} {train / tf['train_img_s']:6.2f} {infer:12.1f} {infer / tf['infer_img_s']:6.2f} {peak:13.0f} {peak / tf_rss:6.2f}")
PY
