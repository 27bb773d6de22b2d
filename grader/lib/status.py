"""The VMM's exit statuses, read from solution/include/kvmlabs/vmm_status.h.

The header is the one table: the VMM, the bare-metal host and the grader all
use it, and Python never copies a number from it. A guest that ends through
the debug-exit port gives an odd status, (value << 1) | 1, so a guest that
passed (value 0) ends the VMM with GUEST_PASSED.
"""
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from .labs import ROOT

HEADER = Path("solution", "include", "kvmlabs", "vmm_status.h")
DEFINE = re.compile(r"^#define\s+VMM_EXIT_(\w+)\s+(\d+)\b")
GUEST_PASSED = 1

# Endings the grader calls CRASH rather than FAIL (when a test does not expect them).
CRASH_NAMES = ("TRIPLE_FAULT", "FAIL_ENTRY", "INTERNAL_ERROR", "UNHANDLED", "WILD_JUMP", "SYSTEM_EVENT",
               "HOST_FAULT")


@dataclass(frozen=True)
class Statuses:
    by_name: dict

    def __getitem__(self, name):
        """The number of VMM_EXIT_<name>."""
        return self.by_name[name]

    def name(self, number):
        if number == GUEST_PASSED:
            return "GUEST_PASSED"
        return next((n for n, v in self.by_name.items() if v == number), "?")

    def crash(self):
        return {self.by_name[n] for n in CRASH_NAMES}


@functools.lru_cache(maxsize=None)
def load(root=ROOT):
    path = Path(root) / HEADER
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = DEFINE.match(line)
        if m:
            found[m[1]] = int(m[2])
    missing = [n for n in CRASH_NAMES + ("TIMEOUT", "NOT_IMPLEMENTED") if n not in found]
    if missing:
        raise RuntimeError(f"{path}: no VMM_EXIT_{missing[0]} (the grader reads one '#define VMM_EXIT_NAME N' a line)")
    return Statuses(found)
