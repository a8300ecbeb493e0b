#!/usr/bin/env bash
# The layout rules of the Swift sources (run by scripts/test.sh): `swift format lint` clean under
# .swift-format (4-space indents, lines ≤ 160 characters, the project's rule choices), and no
# hand-written Swift file over 400 lines. Generated code (Sources/TensorBoard/Generated) is
# exempt. To fix the formatting: swift format format --configuration .swift-format -i FILE…
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.swift' | grep -v '/Generated/')
swift format lint --strict --configuration .swift-format $files
python3 - $files <<'PY'
import sys
problems = []
for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8").read().split("\n")
    if len(lines) - 1 > 400:
        problems.append(f"{path}: {len(lines) - 1} lines, more than 400: split it by concern")
    problems += [f"{path}:{n}: {len(line)} characters, more than 160" for n, line in enumerate(lines, 1) if len(line) > 160]
print("\n".join(problems)) if problems else None
sys.exit(1 if problems else 0)
PY
