#!/usr/bin/env bash
# Rewrites the README's spec reference (the block after "The full reference, as `runner spec`
# prints it:") with what `runner spec` prints now, and schema/experiment.json and
# schema/model.json with what `runner schema` prints — after adding a layer kind, an option or a
# key, run this instead of editing them by hand. CLITests.readmeReference and SchemaTests check
# that they agree.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product runner >/dev/null
reference=$(mktemp)
trap 'rm -f "$reference"' EXIT
.build/debug/runner spec > "$reference"
mkdir -p schema
.build/debug/runner schema > schema/experiment.json
.build/debug/runner schema --model > schema/model.json
echo "schema/experiment.json, schema/model.json: written"
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
