#!/usr/bin/env bash
# Side-by-side benchmark of the seed model (batch 128, synthetic data): runner's `bench` against
# ../shared/bench's TensorFlow script (`--mode fn`) at the same instruction set and precision,
# and PyTorch (eager, channels_last) when torch is installed — alternating A B C ... in every
# round, then the medians and each runner row's ratio to its TensorFlow twin. These machines
# are shared and noisy: only a ratio measured this way means something.
#
# Rows (those this CPU can run):
#   fp32 @ avx2     runner with RUNNER_CPU=avx2          TensorFlow with ONEDNN_MAX_CPU_ISA=AVX2
#   fp32 @ native   runner at the detected level         TensorFlow as installed (oneDNN picks)
#   bf16 @ native   runner --precision bf16              TensorFlow under Keras mixed_bfloat16
#
#   scripts/bench-peers.sh [ROUNDS]        (default 3; TensorFlow/PyTorch from $PEERS_PYTHON)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
peers=$(cd "${PEERS_DIR:-../shared/bench/peers}" && pwd)
python=${PEERS_PYTHON:-python3}
swift build -c release --product runner >/dev/null
runner=.build/release/runner
results=$(mktemp -d)
level=$("$runner" bench configs/digits.yaml --steps 1 --warmup 0 --repeats 1 --json | sed -n 's/^RESULT .*"cpu_level": "\([a-z0-9]*\)".*/\1/p')
contenders="runner-fp32-avx2 tf-fp32-avx2"
if [ "$level" != avx2 ] && [ "$level" != portable ]; then contenders="$contenders runner-fp32-$level tf-fp32-native"; fi
if [ "$level" = avx512bf16 ]; then contenders="$contenders runner-bf16-$level tf-bf16-native"; fi
if "$python" -c "import torch" 2>/dev/null; then contenders="$contenders pytorch-fp32-native"; fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); runner's level: $level; $(nproc) cores"
measure() {  # NAME ROUND: one run, its RESULT json and its peak RSS (KiB, from GNU time)
  local name=$1 round=$2 out="$results/$1.$2"
  case $name in
    runner-*) local precision=${name#runner-}; precision=${precision%%-*}; local at=${name#runner-*-}
              RUNNER_CPU=$at /usr/bin/time -f "%M" -o "$out.rss" "$runner" bench configs/cifar10_seed.yaml --precision "$precision" \
                --batch 128 --steps 40 --warmup 5 --repeats 1 --json ;;
    tf-fp32-avx2) (cd "$peers" && ONEDNN_MAX_CPU_ISA=AVX2 /usr/bin/time -f "%M" -o "$out.rss" "$python" tf_seed_model.py --mode fn 2>/dev/null) ;;
    tf-fp32-native) (cd "$peers" && /usr/bin/time -f "%M" -o "$out.rss" "$python" tf_seed_model.py --mode fn 2>/dev/null) ;;
    tf-bf16-native) /usr/bin/time -f "%M" -o "$out.rss" "$python" scripts/tf_mixed_bf16.py "$peers" --mode fn 2>/dev/null ;;
    pytorch-fp32-native) (cd "$peers" && /usr/bin/time -f "%M" -o "$out.rss" "$python" torch_seed_model.py --channels-last 2>/dev/null) ;;
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
def twin(name):  # runner-fp32-avx2 → tf-fp32-avx2; runner-fp32-avx512 → tf-fp32-native
    precision, level = name.split("-")[1], name.split("-", 2)[2]
    return f"tf-{precision}-{'avx2' if level == 'avx2' else 'native'}"
print(f"medians of {rounds} alternating rounds (seed model, batch 128); ratio = ÷ TensorFlow at the same ISA and precision")
print(f"  {'':22} {'train img/s':>12} {'ratio':>6} {'infer img/s':>12} {'ratio':>6} {'peak RSS MiB':>13}")
for name in names:
    train, infer, peak = m(values(name, "train_img_s")), m(values(name, "infer_img_s")), m(rss(name))
    ratios = ("", "")
    if name.startswith("runner-") and twin(name) in names:
        ratios = (f"{train / m(values(twin(name), 'train_img_s')):6.2f}", f"{infer / m(values(twin(name), 'infer_img_s')):6.2f}")
    print(f"  {name:22} {train:12.1f} {ratios[0]:>6} {infer:12.1f} {ratios[1]:>6} {peak:13.0f}")
# Issue 12 stated its bf16 goal against TensorFlow's default (fp32) build: that ratio too.
for name in names:
    if name.startswith("runner-bf16-") and "tf-fp32-native" in names:
        fp32 = lambda key: m(values("tf-fp32-native", key))
        print(f"  {name + ' ÷ tf-fp32-native':37} {m(values(name, 'train_img_s')) / fp32('train_img_s'):6.2f}"
              f" {'':12} {m(values(name, 'infer_img_s')) / fp32('infer_img_s'):6.2f}")
PY
