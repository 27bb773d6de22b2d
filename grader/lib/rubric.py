"""Rubrics: labs/NN-name/rubric, one graded guest per line.

    # test        points  guest            [key=value ...]   [-- vmm options]
    hello         20      real-hello.bin   section=exercise-3

Keys: expect=pass|status:N, needs=cap,..., section=exercise-N, timeout=SECONDS,
on=linux-kvm|minikvm (the platform of this one test, when it is not the lab's:
lab 02's segments under VT-x's entry checks, which this host's KVM does not make),
checks=PREFIX:exercise-N,... (a guest whose checks test several exercises: the first
failing check, "not ok NAME", whose name starts with PREFIX points at that exercise
instead of section=), host=no-ept (on minikvm: EPT off, the shadow MMU of lab 05, for
a test at a stage that has EPT; grader/baremetal/run --no-ept), disk=SIZE (a virtio-blk
disk of SIZE bytes, K or M suffix, made afresh for each run and given as --disk; the
grader fills it (runner.disk_fill) and checks it after a Linux KVM run against the
guest's "expect-disk:" line).
"""
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .status import GUEST_PASSED

KEYS = {"checks", "disk", "expect", "host", "needs", "on", "section", "timeout"}
DISK_MAX = 16 << 20
HOST_OPTIONS = ("no-ept",)
PLATFORMS = ("linux-kvm", "minikvm")


class RubricError(Exception):
    pass


@dataclass
class Test:
    name: str
    points: int
    guest: str
    expect: str = "pass"
    needs: tuple = ()
    section: str | None = None
    timeout: int | None = None
    args: list = field(default_factory=list)
    on: str | None = None        # the platform, when not the lab's own (labs.runs_on)
    checks: tuple = ()           # ((check-name prefix, "exercise-N"), ...): sections of single checks
    host: tuple = ()             # options of the bare-metal host (minikvm only): ("no-ept",)
    disk: int | None = None      # bytes of the run's virtio-blk disk (disk=SIZE)

    def expected_status(self):
        """The VMM exit status the test wants: the guest's pass, or expect=status:N."""
        if self.expect == "pass":
            return GUEST_PASSED
        return int(self.expect.split(":", 1)[1])


def parse_size(text):
    """Bytes of "64K", "1M" or "4096"; 0 if it is none of those."""
    m = re.fullmatch(r"(\d+)([KM]?)", text)
    return int(m[1]) << {"": 0, "K": 10, "M": 20}[m[2]] if m else 0


def parse(path):
    tests, seen = [], set()
    with Path(path).open(encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{path}:{no}"
            head, _, tail = line.partition(" -- ")
            if line.endswith(" --"):
                head, tail = line[:-3], ""
            words = head.split()
            if len(words) < 3:
                raise RubricError(f"{where}: expected 'test points guest [key=value...] [-- options]'")
            name, points, guest, *extra = words
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) or name in seen:
                raise RubricError(f"{where}: bad or repeated test name '{name}'")
            if not points.isdigit():
                raise RubricError(f"{where}: points must be a whole number, not '{points}'")
            kv = {}
            for w in extra:
                k, eq, v = w.partition("=")
                if not eq or k not in KEYS:
                    raise RubricError(f"{where}: unknown field '{w}' (keys: {', '.join(sorted(KEYS))})")
                kv[k] = v
            expect = kv.get("expect", "pass")
            if expect != "pass" and not re.fullmatch(r"status:\d+", expect):
                raise RubricError(f"{where}: expect must be 'pass' or 'status:N', not '{expect}'")
            needs = [n for n in kv.get("needs", "").split(",") if n and n != "-"]
            timeout = int(kv["timeout"]) if "timeout" in kv else None
            if kv.get("on", PLATFORMS[0]) not in PLATFORMS:
                raise RubricError(f"{where}: on must be one of {', '.join(PLATFORMS)}, not '{kv['on']}'")
            checks = []
            for item in (c for c in kv.get("checks", "").split(",") if c):
                prefix, colon, section = item.partition(":")
                if not colon or not prefix or not re.fullmatch(r"exercise-\d+", section):
                    raise RubricError(f"{where}: checks= wants 'PREFIX:exercise-N,...', not '{item}'")
                checks.append((prefix, section))
            host = [h for h in kv.get("host", "").split(",") if h]
            for h in host:
                if h not in HOST_OPTIONS:
                    raise RubricError(f"{where}: host= takes {', '.join(HOST_OPTIONS)}, not '{h}'")
            if host and kv.get("on") == "linux-kvm":
                raise RubricError(f"{where}: host= is for minikvm's bare-metal host, not on=linux-kvm")
            disk = parse_size(kv["disk"]) if "disk" in kv else None
            if disk is not None:
                if not disk or disk % 512 or disk > DISK_MAX:
                    raise RubricError(f"{where}: disk= wants a size of whole 512-byte sectors up to "
                                      f"{DISK_MAX >> 20}M (e.g. 64K), not '{kv['disk']}'")
            seen.add(name)
            tests.append(Test(name, int(points), guest, expect, tuple(needs), kv.get("section"), timeout,
                              shlex.split(tail), kv.get("on"), tuple(checks), tuple(host), disk))
    if not tests:
        raise RubricError(f"{path}: no tests")
    return tests
