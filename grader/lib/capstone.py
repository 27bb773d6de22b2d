"""The capstone: the kit's Linux (grader/linux) booted on a student's stage, and how far it got.

A rubric test whose guest is under linux/ (linux/bzImage) runs the kernel that
grader/linux/build makes (cached by its inputs), with its initramfs; the grader builds
it into the guests directory before the run (ensure_built). When the run fails, the
verdict names the boot phases Linux went through and the first it did not reach, each
with the lab whose work it needs (phases())."""
import re
import subprocess
import sys
from pathlib import Path

PREFIX = "linux/"

# (phase, what its line looks like, the lab whose work it needs first)
PHASES = (
    ("decompressed", re.compile(r"^Linux version \d", re.M),
     "the VMM's bzImage loader and long mode (labs 02, 04-06): the kernel never printed its banner"),
    ("early console", re.compile(r"^printk: console \[ttyS0\] enabled", re.M),
     "the 8250 UART and port I/O exits (labs 03-04)"),
    ("timer", re.compile(r"^(Calibrating delay loop|clocksource: Switched to clocksource)", re.M),
     "the PIT, the PIC and interrupt injection (lab 08): jiffies never advanced"),
    ("virtio probe", re.compile(r"^virtio_blk virtio\d+: \[vda\]", re.M),
     "the virtio-mmio transport and virtio-blk (lab 09), MMIO emulation (lab 07)"),
    ("/init", re.compile(r"^Run /init as init process", re.M),
     "the initramfs (the VMM's --initrd), and user mode: SYSCALL, page faults (labs 04-06)"),
    ("report", re.compile(r"^kvmlabs: end passed=", re.M),
     "the devices /init uses: virtio-blk and virtio-console (lab 09)"),
)


def is_linux(test):
    return test.guest.startswith(PREFIX)


def phases(transcript):
    """'Linux reached: a, b; not: c (needs ...)', or '' when every phase was seen."""
    reached = []
    for name, seen, needs in PHASES:
        if not seen.search(transcript):
            done = ", ".join(reached) if reached else "none"
            panic = re.search(r"^(Kernel panic - not syncing: .*|BUG: .*|Oops: .*)$", transcript, re.M)
            more = f"; the kernel said '{panic[1][:120]}'" if panic else ""
            return f"Linux boot phases reached: {done}; not reached: {name} — {needs}{more}"
        reached.append(name)
    return ""


def ensure_built(root, guests):
    """Build (or take from the cache) the kit's Linux into guests/linux; None, or why not."""
    p = subprocess.run([sys.executable, str(Path(root, "grader", "linux", "build")), "--quiet",
                        "--out", str(Path(guests, "linux"))], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode:
        return "the kit's Linux was not built (make linux): " + p.stdout.strip()[-1500:]
    return None
