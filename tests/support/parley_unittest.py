"""main() for Parley's Python unittest files (tests/unit/tools/*_test.py and the like).

Why: unittest exits 0 when tests were skipped, and ctest would call that a pass. Here a run with a
skipped test and no failure exits 77 (ctest SKIP_RETURN_CODE: reported as skipped), and every
skipped test is appended with its reason to $PARLEY_SKIP_LOG, the same log the GoogleTest binaries
write (tests/support/gtest_main.cc), so tools/test lists them and applies the CI policy.
Standard library only.
"""

import os
import sys
import unittest

SKIP_RETURN_CODE = 77


def main(module="__main__", verbosity=2):
    program = unittest.main(module=module, exit=False, verbosity=verbosity)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        log = os.environ.get("PARLEY_SKIP_LOG")
        if log:
            name = os.environ.get("PARLEY_TEST_NAME") or os.path.splitext(os.path.basename(sys.argv[0]))[0]
            with open(log, "a", encoding="utf-8") as f:
                for test, reason in result.skipped:
                    clean = " ".join(str(reason).split())
                    f.write(f"{name}\t{test.id()}\t{clean}\n")
        sys.exit(SKIP_RETURN_CODE)
    sys.exit(0)
