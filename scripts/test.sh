#!/usr/bin/env bash
# The README's test command: installs what is missing (Debian packages, a Python virtual
# environment for the interoperability tests), then runs every test (Swift Testing).
#
#   scripts/test.sh           every test: layout and import checks, 3,000 runs of each fuzz
#                             target, then all suites (what CI runs; a few minutes on 2 cores)
#   scripts/test.sh --quick   the unit tiers only, in seconds: the test targets that run no
#                             binary and train nothing end to end (kernels, layers, plans,
#                             specs, datasets, event files)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
# The tiers are test targets (SwiftPM 6.3's `swift test` cannot select Swift Testing tags).
quick='^(KernelsTests|LayersTests|PlanTests|SpecTests|TensorBoardTests|DatasetsTests)\.'
if [ "${1:-}" = --quick ]; then
  swift build --build-tests
  exec swift test --skip-build --disable-xctest --filter "$quick"
fi
scripts/setup.sh
# Python packages the interoperability tests read runner's files with, in a local virtual
# environment kept between runs (.venv-test, ignored by git): safetensors and tensorboard read
# checkpoints and event files, Pillow writes test images,
# onnx and onnxruntime check `runner export`'s models; check-jsonschema validates specs
# against `runner schema`.
if ! .venv-test/bin/python -c "import safetensors.numpy, tensorboard, onnx, onnxruntime, check_jsonschema" 2>/dev/null; then
  python3 -m venv .venv-test
  .venv-test/bin/pip install --quiet --disable-pip-version-check safetensors==0.8.0 tensorboard==2.21.0 numpy pillow==11.3.0 \
    onnx==1.23.2 onnxruntime==1.32.0 check-jsonschema==0.39.0
fi
# Each target declares exactly the modules it imports; the sources are laid out as
# .swift-format says, no file over 400 lines.
python3 scripts/check-imports.py
scripts/check-layout.sh
# A short run of each libFuzzer target (scripts/fuzz.sh runs them for 1,000,000 executions).
scripts/fuzz.sh 3000
swift build --build-tests
swift test --skip-build --disable-xctest
