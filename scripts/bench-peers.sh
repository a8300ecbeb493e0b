#!/usr/bin/env bash
# Side-by-side benchmark: runner's `bench` and ../shared/bench's TensorFlow script, alternating
# (A B A B ...) in one session, then the ratios of the medians. These machines are shared and
# noisy: only a ratio measured this way means something.
#   scripts/bench-peers.sh [ROUNDS]        (default 3; needs TensorFlow in $PEERS_PYTHON)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
peers=${PEERS_DIR:-../shared/bench/peers}
python=${PEERS_PYTHON:-python3}
swift build -c release --product runner >/dev/null
results=$(mktemp -d)
for round in $(seq 1 "$rounds"); do
  /usr/bin/time -f "%M" -o "$results/runner.$round.rss" .build/release/runner bench configs/cifar10_seed.yaml --batch 128 --steps 40 --warmup 5 --repeats 1 --json \
    | grep '^RESULT ' | sed 's/^RESULT //' > "$results/runner.$round.json"
  (cd "$peers" && /usr/bin/time -f "%M" -o "$results/tf.$round.rss" "$python" tf_seed_model.py --mode fn 2>/dev/null) \
    | grep '^RESULT ' | sed 's/^RESULT //' > "$results/tf.$round.json"
  echo "round $round: runner $(cat "$results/runner.$round.json")"
  echo "round $round: tensorflow $(cat "$results/tf.$round.json")"
done
python3 - "$results" "$rounds" <<'PY'
import json, statistics, sys
folder, rounds = sys.argv[1], int(sys.argv[2])
def load(name, key):
    values = []
    for r in range(1, rounds + 1):
        data = json.load(open(f"{folder}/{name}.{r}.json"))
        values.append(data[key])
    return values
def rss(name):
    return [int(open(f"{folder}/{name}.{r}.rss").read().split()[-1]) / 1024 for r in range(1, rounds + 1)]
tf_keys = {"train": "train_img_s", "infer": "infer_img_s"}
r_train, r_infer = load("runner", "train_img_s"), load("runner", "infer_img_s")
t = [json.load(open(f"{folder}/tf.{r}.json")) for r in range(1, rounds + 1)]
def pick(d, *names):
    for n in names:
        if n in d: return d[n]
    raise KeyError(names)
t_train = [pick(d, "train_img_s", "train_images_per_sec", "train") for d in t]
t_infer = [pick(d, "infer_img_s", "infer_images_per_sec", "infer") for d in t]
m = statistics.median
print(f"medians of {rounds} alternating rounds (batch 128, 2 cores):")
print(f"  train img/s  runner {m(r_train):7.1f}  tensorflow {m(t_train):7.1f}  ratio {m(r_train)/m(t_train):.2f}")
print(f"  infer img/s  runner {m(r_infer):7.1f}  tensorflow {m(t_infer):7.1f}  ratio {m(r_infer)/m(t_infer):.2f}")
print(f"  peak RSS MiB runner {m(rss('runner')):7.0f}  tensorflow {m(rss('tf')):7.0f}")
PY
