#!/usr/bin/env python3
"""tools/lib/skip_report.py: list every skipped test with its reason, and apply the CI policy.

Why: a green run must mean the tests ran. ctest reports a skipped entry (exit 77) as "Not Run";
this script, called by tools/test after ctest, prints each skipped test case with the reason its
binary logged ($PARLEY_SKIP_LOG, written by tests/support/gtest_main.cc and parley_unittest.py),
and under CI=true fails when a skip is neither a `gpu` test (CI has no GPU) nor named by the
allow-list (tools/lib/skip-allowed.txt), which it prints with its reasons.

Usage: skip_report.py --log FILE --gpu-tests FILE --allow FILE [--ci] JUNIT.xml...
  --log        lines "<ctest entry>\t<case>\t<reason>" (may be absent: nothing logged)
  --gpu-tests  ctest entry names labelled gpu, one per line
  --allow      allow-list: "<ctest entry> <case glob> <reason...>" per line, `#` comments
  JUNIT.xml    ctest --output-junit files: which entries ctest reported as skipped
Exit: 0, or 1 under --ci when a skip is not allowed. Standard library only.
"""

import argparse
import fnmatch
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def read_allow(path):
    rules = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            sys.exit(f"{path}:{number}: expected '<ctest entry> <case glob> <reason>', got '{line}'")
        rules.append((parts[0], parts[1], parts[2]))
    return rules


def skipped_entries(junit_files):
    """ctest entries reported as skipped (status notrun with a <skipped> element), with their output."""
    entries = {}
    for name in junit_files:
        path = Path(name)
        if not path.is_file():
            continue
        for case in ET.parse(path).getroot().iter("testcase"):
            if case.find("skipped") is not None:
                out = case.findtext("system-out") or ""
                entries[case.get("name")] = out
    return entries


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", required=True)
    ap.add_argument("--gpu-tests", required=True)
    ap.add_argument("--allow", required=True)
    ap.add_argument("--ci", action="store_true")
    ap.add_argument("junit", nargs="*")
    args = ap.parse_args()

    gpu = {l.strip() for l in Path(args.gpu_tests).read_text().splitlines() if l.strip()}
    allow = read_allow(args.allow)
    logged = []
    if Path(args.log).is_file():
        for line in Path(args.log).read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3:
                logged.append(tuple(parts))
    entries = skipped_entries(args.junit)
    # An entry ctest skipped that logged nothing (a script test): its reason is its last output line.
    for entry, out in sorted(entries.items()):
        if not any(e == entry for e, _, _ in logged):
            lines = [l for l in out.splitlines() if l.strip()]
            logged.append((entry, "all", lines[-1].strip() if lines else "(no reason printed)"))

    if not logged:
        print("==> skipped tests: none")
        return 0

    refused = []
    # Grouped by (entry, reason): a GPU test skips dozens of cases for one reason.
    groups = {}
    for entry, case, reason in sorted(logged):
        if entry in gpu:
            verdict = "gpu test: allowed"
        else:
            rule = next((r for r in allow if r[0] == entry and fnmatch.fnmatchcase(case, r[1])), None)
            if rule is not None:
                verdict = f"allowed: {rule[2]}"
            else:
                verdict = "NOT ALLOWED under CI" if args.ci else "would fail under CI"
                refused.append((entry, case))
        groups.setdefault((entry, reason, verdict), []).append(case)
    print(f"==> skipped tests: {len(logged)} case(s) in {len({e for e, _, _ in logged})} test(s)")
    for (entry, reason, verdict), cases in groups.items():
        shown = ", ".join(cases[:3]) + (f", ... ({len(cases)} cases)" if len(cases) > 3 else "")
        print(f"    {entry}: {shown}\n        reason:  {reason}\n        verdict: {verdict}")
    if allow:
        print(f"==> allow-list ({args.allow}):")
        for entry, glob, reason in allow:
            print(f"    {entry} {glob}: {reason}")
    if args.ci and refused:
        print(f"==> error: {len(refused)} skipped test(s) are neither gpu tests nor allow-listed; under CI "
              "every dependency is installed, so a skip means something is missing or broken")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
