#!/usr/bin/env python3
"""Checks that each Swift target of Package.swift declares exactly the modules its sources import
(imports of system modules aside): a module used without being declared builds only by luck
of the build order, and a declared one never imported is a dependency nobody needs.
Reads the manifest through `swift package dump-package`; exits 1 listing each mismatch."""
import json
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
SYSTEM = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Darwin", "Testing", "XCTest", "Synchronization"}
# Declared for what the target runs, not imports: the CLI tests run the `runner` binary.
NEEDED_UNIMPORTED = {("CLITests", "RunnerCLI")}
manifest = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True).stdout)
problems = []
for target in manifest["targets"]:
    if target["type"] not in ("regular", "executable", "test"):
        continue
    folder = root / (target.get("path") or ("Tests" if target["type"] == "test" else "Sources") + "/" + target["name"])
    sources = list(folder.rglob("*.swift"))
    if not sources:
        continue  # a C target
    imported = set()
    optional = set()  # imports under `#if canImport(X)`: declared only where the build found X
    for source in sources:
        code = re.sub(r'"""[\s\S]*?"""', "", source.read_text())  # multi-line strings hold Python, not Swift
        optional |= set(re.findall(r"canImport\((\w+)\)", code))
        imported |= set(re.findall(r"^\s*(?:@testable\s+)?import\s+(?:(?:struct|class|enum|func|protocol)\s+)?(\w+)", code, re.M))
    declared = {value[0] for dependency in target.get("dependencies", []) for value in dependency.values()}
    imported -= SYSTEM
    imported -= optional - declared
    for name in sorted(imported - declared):
        problems.append(f"{target['name']} imports {name} without declaring it")
    for name in sorted(declared - imported - {n for t, n in NEEDED_UNIMPORTED if t == target["name"]}):
        problems.append(f"{target['name']} declares {name} but never imports it")
for problem in problems:
    print(f"Package.swift: {problem}")
sys.exit(1 if problems else 0)
