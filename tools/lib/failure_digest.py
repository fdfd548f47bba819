#!/usr/bin/env python3
"""tools/lib/failure_digest.py: the last lines of every failed test's output, printed at the end.

Why: CI keeps only part of a long log (the start of the first failure and the very end). A test
that fails after a long earlier one (a fuzz run's thousands of lines) would leave no trace of its
own; tools/test prints this digest last so every failure's own words reach the end of the log.

Usage: failure_digest.py [--lines N] JUNIT.xml...   (ctest --output-junit files)
Exit: 0 always (tools/test decides pass or fail). Standard library only.
"""

import argparse
import xml.etree.ElementTree as ET


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("junit", nargs="*")
    args = parser.parse_args()
    for path in args.junit:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as e:
            print(f"failure digest: cannot read {path}: {e}")
            continue
        for case in root.iter("testcase"):
            if case.get("status") != "fail" and case.find("failure") is None:
                continue
            out = case.findtext("system-out") or ""
            lines = [l for l in out.splitlines() if l.strip()]
            print(f"==> failed: {case.get('name')} ({case.get('time', '?')} s); its last {min(len(lines), args.lines)} lines:")
            for line in lines[-args.lines:]:
                print(f"    {line[:400]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
