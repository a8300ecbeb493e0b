#!/usr/bin/env bash
# Rewrites the README's spec reference (the block after "The full reference, as `runner spec`
# prints it:") with what `runner spec` prints now — after adding a layer kind or an option, run
# this instead of editing the README by hand. CLITests.readmeReference checks they agree.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product runner >/dev/null
reference=$(mktemp)
trap 'rm -f "$reference"' EXIT
.build/debug/runner spec > "$reference"
python3 - "$reference" <<'PY'
import sys
marker = "The full reference, as `runner spec` prints it:\n\n```\n"
readme = open("README.md", encoding="utf-8").read()
start = readme.index(marker) + len(marker)
end = readme.index("\n```", start)
printed = open(sys.argv[1], encoding="utf-8").read()
updated = readme[:start] + printed.rstrip("\n") + readme[end:]
if updated != readme:
    open("README.md", "w", encoding="utf-8").write(updated)
    print("README.md: spec reference updated")
else:
    print("README.md: spec reference already up to date")
PY
