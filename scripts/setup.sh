#!/usr/bin/env bash
# Installs what runner needs from Debian's packages, when missing: OpenBLAS (sgemm), zlib (gzip:
# digits, IDX files, archives), libpng and libjpeg-turbo (image_folder, predict), libcurl (dataset
# downloads, streamed to disk), pkg-config (SwiftPM finds the libraries through it); Open MPI
# (`mpirun -np R runner CONFIG`: one run data-parallel) and a Slurm with munge (`--slurm`: sweeps
# as job arrays; the tests start a one-machine cluster of their own).
# Safe to run again: it installs nothing that is already there.
set -euo pipefail

packages=(libopenblas-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev libcurl4-openssl-dev pkg-config openmpi-bin libopenmpi-dev slurm-wlm munge)
# The tests read runner's files from Python (safetensors); they need venv and pip.
command -v python3 >/dev/null 2>&1 && python3 -c "import venv, ensurepip" 2>/dev/null || packages+=(python3 python3-venv python3-pip)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "setup: swift is at /opt/swift/usr/bin; add it to PATH" >&2
  else
    echo "setup: runner needs Swift 6 (swift.org); none was found" >&2
  fi
  exit 1
fi
