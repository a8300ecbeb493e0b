#!/usr/bin/env bash
# One epoch of a config's training on 2 MPI ranks × 1 thread against 1 process × 2 threads,
# alternating, ROUNDS rounds; prints each run's training images/s (summary.json's first epoch)
# and the median ratio. Release build, CIFAR-10 unpacked at DATA (the official binary files).
#
#   bench/mpi-side-by-side.sh DATA [ROUNDS] [CONFIG]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?the folder holding data_batch_1.bin ... test_batch.bin}
rounds=${2:-3}
config=${3:-configs/cifar10_seed.yaml}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
runner=.build/release/runner
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
common=("$config" --set train.epochs=1 --set "data.root=$data" --set data.test=never --set tensorboard.enabled=false)
rate() { python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1] + "/*/*/summary.json")[0]))["history"][0]["images_per_second"])' "$1"; }
one=(); two=()
for round in $(seq "$rounds"); do
  "$runner" "${common[@]}" --threads 2 --runs "$scratch/one-$round" >/dev/null
  one+=("$(rate "$scratch/one-$round")")
  mpirun --oversubscribe --bind-to none -np 2 "$runner" "${common[@]}" --threads 1 --runs "$scratch/two-$round" >/dev/null
  two+=("$(rate "$scratch/two-$round")")
  echo "round $round: 1 process × 2 threads ${one[-1]} img/s, 2 ranks × 1 thread ${two[-1]} img/s"
done
python3 - "${one[*]}" "${two[*]}" <<'PY'
import statistics, sys
one = [float(x) for x in sys.argv[1].split()]; two = [float(x) for x in sys.argv[2].split()]
print(f"medians of {len(one)}: 1×2 {statistics.median(one):.1f} img/s, 2×1 {statistics.median(two):.1f} img/s, "
      f"ratio 2×1 / 1×2 = {statistics.median(two) / statistics.median(one):.3f}")
PY
