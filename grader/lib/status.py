"""The VMM's exit statuses, read from solution/include/kvmlabs/vmm_status.h.

The header is the one table: the VMM, the bare-metal host and the grader all
use it, and Python never copies a number from it. A guest that ends through
the debug-exit port gives an odd status, (value << 1) | 1, so a guest that
passed (value 0) ends the VMM with GUEST_PASSED.
"""
import functools
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

from .labs import ROOT

HEADER = Path("solution", "include", "kvmlabs", "vmm_status.h")
DEFINE = re.compile(r"^#define\s+VMM_EXIT_(\w+)\s+(\d+)\b\s*(?:/\*\s*(.*?)\s*\*/)?")
GUEST_PASSED = 1
GUEST_FAILED = 3     # the guest runtime's guest_exit(1): a check failed

# Endings that are not the VMM's: grader/baremetal/run's own statuses.
RUNNER = {124: ("RUNNER_TIMEOUT", "the emulator ran out of time (grader/baremetal/run)"),
          125: ("RUNNER_BROKEN", "the emulator could not start or stopped on its own (grader/baremetal/run)")}

# Endings the grader calls CRASH rather than FAIL (when a test does not expect them).
CRASH_NAMES = ("TRIPLE_FAULT", "FAIL_ENTRY", "INTERNAL_ERROR", "UNHANDLED", "WILD_JUMP", "SYSTEM_EVENT",
               "HOST_FAULT", "SANITIZER")


@dataclass(frozen=True)
class Statuses:
    by_name: dict
    comments: dict = field(default_factory=dict)    # name: the header's comment

    def __getitem__(self, name):
        """The number of VMM_EXIT_<name>."""
        return self.by_name[name]

    def name(self, number):
        """Every status has a name: <name> of VMM_EXIT_<name> for those the header
        defines, GUEST_PASSED, GUEST_FAILED or GUEST_EXIT_<value> for a guest's
        debug-exit value (odd), SIG* for a signal (negative), the platform
        runner's own, else UNKNOWN_<n>."""
        if number is None:
            return "KILLED"
        if number < 0:
            try:
                return signal.Signals(-number).name
            except ValueError:
                return f"SIGNAL_{-number}"
        if number in RUNNER:
            return RUNNER[number][0]
        named = next((n for n, v in self.by_name.items() if v == number), None)
        if named:
            return named
        if number == GUEST_PASSED:
            return "GUEST_PASSED"
        if number == GUEST_FAILED:
            return "GUEST_FAILED"
        if number & 1:
            return f"GUEST_EXIT_{number >> 1}"
        return f"UNKNOWN_{number}"

    def describe(self, number):
        """'10 (FAIL_ENTRY: KVM_EXIT_FAIL_ENTRY)': the status, its name and what it means."""
        name = self.name(number)
        if number is None:
            return f"none ({name}: the grader ended the run, which did not finish in time)"
        if number < 0:
            what = "the VMM was killed by this signal"
        elif number in RUNNER:
            what = RUNNER[number][1]
        elif name in self.comments:
            what = self.comments[name]
        elif number == GUEST_PASSED:
            what = "the guest ended through the debug-exit port and reported every check passed"
        elif number & 1:
            what = f"the guest ended through the debug-exit port with value {number >> 1}" + \
                   (": a check failed" if number == GUEST_FAILED else "")
        else:
            what = "not a status of vmm_status.h"
        return f"{number} ({name}: {what})"

    def crash(self):
        return {self.by_name[n] for n in CRASH_NAMES}


@functools.lru_cache(maxsize=None)
def load(root=ROOT):
    path = Path(root) / HEADER
    found, comments = {}, {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = DEFINE.match(line)
        if m:
            found[m[1]] = int(m[2])
            if m[3]:
                comments[m[1]] = m[3]
    missing = [n for n in CRASH_NAMES + ("TIMEOUT", "NOT_IMPLEMENTED") if n not in found]
    if missing:
        raise RuntimeError(f"{path}: no VMM_EXIT_{missing[0]} (the grader reads one '#define VMM_EXIT_NAME N' a line)")
    return Statuses(found, comments)
