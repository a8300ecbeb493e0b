#!/usr/bin/env bash
# Two runner binaries (e.g. before and after a change to how datasets are held) on one epoch of
# a config, alternating, ROUNDS rounds: peak RSS (/usr/bin/time -v), training images/s and
# whether the two give bit-identical metrics (history without timings, and the test figures).
#
#   bench/memory-side-by-side.sh BEFORE AFTER DATA [ROUNDS] [CONFIG [--set KEY=VALUE ...]]
# (cifar10_fast's warm-up of 2 epochs is shortened to half the one epoch run here.)
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?the first runner binary}; after=${2:?the second runner binary}
data=${3:?the folder holding data_batch_1.bin ... test_batch.bin}
rounds=${4:-2}; config=${5:-configs/cifar10_fast.yaml}
extra=("${@:6}")
[ ${#extra[@]} -eq 0 ] && [ "$config" = configs/cifar10_fast.yaml ] && extra=(--set train.schedule.linear.warmup_epochs=0.5)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for round in $(seq "$rounds"); do
  for side in before after; do
    binary=$before; [ "$side" = after ] && binary=$after
    /usr/bin/time -v "$binary" "$config" --set train.epochs=1 --set "data.root=$data" --set tensorboard.enabled=false "${extra[@]}" \
      --runs "$scratch/$side-$round" > "$scratch/$side-$round.log" 2> "$scratch/$side-$round.time"
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$scratch/$side-$round.time")
    rate=$(python3 -c 'import json,sys,glob; print(round(json.load(open(glob.glob(sys.argv[1] + "/*/*/summary.json")[0]))["history"][0]["images_per_second"], 1))' "$scratch/$side-$round")
    echo "round $round $side: peak RSS $rss MiB, $rate training images/s"
  done
done
python3 - "$scratch" "$rounds" <<'PY'
import glob, json, statistics, sys
scratch, rounds = sys.argv[1], int(sys.argv[2])
def history(path):
    summary = json.load(open(glob.glob(path + "/*/*/summary.json")[0]))
    return [{k: v for k, v in epoch.items() if k not in ("seconds", "images_per_second")} for epoch in summary["history"]]
same = all(history(f"{scratch}/before-{r}") == history(f"{scratch}/after-{r}") for r in range(1, rounds + 1))
print("metrics bit-identical between the two:", same, history(f"{scratch}/after-1"))
PY
