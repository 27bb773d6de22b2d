"""Reproducing one test: `make run LAB=NN GUEST=name [ARGS="..."] [SOLUTION=1|CUMULATIVE=1]`.

It builds the stage exactly as `make grade` does (same variant, same build
directory) and runs the guest on the stage's platform, with the transcript
streamed to the terminal: the stage's VMM on Linux KVM, or the stage's own
bare-metal host image (build/lab-NN[-variant]/host/kvmlabs.img) with minikvm.
Under every failed test the grader prints the command (rerun_command).
"""
import difflib
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import capstone, grading, labs, runner, sandbox, status as vmm_status
from .rubric import Test
from .stage import Stage, StageError

# A variant of `make grade` and the make variable that selects it.
MAKE_FLAG = {"student": None, "solution": "SOLUTION=1", "cumulative": "CUMULATIVE=1", "release": "RELEASE=1"}


def rerun_command(lab, test, variant="student"):
    """The make command that runs `test`'s guest as the grade did:
    make run LAB=04 GUEST=prot-vmx-msr.elf ARGS='--no-irqchip' [TIMEOUT=S] [SOLUTION=1]."""
    if getattr(test, "on", None) or getattr(test, "host", ()) or getattr(test, "disk", None):
        # A test with its own platform, host options or disk is rerun by its name: GUEST=<test>
        # runs it where and how the grade did.
        words = ["make", "run", f"LAB={lab:02d}", f"GUEST={shlex.quote(test.name)}"]
    else:
        words = ["make", "run", f"LAB={lab:02d}", f"GUEST={shlex.quote(test.guest)}"]
    if test.args and not getattr(test, "on", None) and not getattr(test, "host", ()) and not getattr(test, "disk", None):
        args = shlex.join(test.args)
        quoted = shlex.quote(args)
        # Quoted even when the shell needs no quotes, so every rerun line reads alike.
        words.append("ARGS=" + (quoted if quoted != args else f"'{args}'"))
    if test.timeout:
        words.append(f"TIMEOUT={test.timeout}")
    if MAKE_FLAG.get(variant):
        words.append(MAKE_FLAG[variant])
    return " ".join(words)


@dataclass
class Guest:
    """What to run: a guest image and its VMM options (from the command line, or a rubric test)."""
    test: Test
    from_rubric: bool = False


def choose(root, lab, guest, args, guests_dir, timeout=None):
    """The Test to run for GUEST (a guest image in the guests directory, or the name of
    a rubric test of the lab, whose guest and options are used when ARGS is not given)."""
    if Path(guests_dir, guest).is_file():
        return Guest(Test(guest, 0, guest, args=list(args), timeout=timeout))
    d = labs.lab_dir(root, lab)
    tests = grading.rubric_tests(root, lab) if d and (d / "rubric").exists() else []
    named = {t.name: t for t in tests}
    if guest in named:
        t = named[guest]
        return Guest(Test(t.name, 0, t.guest, t.expect, t.needs, t.section, timeout or t.timeout,
                          list(args) if args else list(t.args), t.on, host=t.host, disk=t.disk), True)
    images = sorted(p.name for p in Path(guests_dir).iterdir() if p.is_file() and p.suffix in (".bin", ".elf"))
    near = difflib.get_close_matches(guest, images + list(named), n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise LookupError(f"no guest image '{guest}' in {shown(guests_dir, root)} and no test '{guest}' in lab {lab:02d}'s "
                      f"rubric{hint}")


def run(root, lab, guest, args=(), variant="student", timeout=None, out=sys.stdout):
    """Build stage `lab` like `make grade`, run one guest with its transcript streamed;
    returns (status or None, message). The message ends the output: the exit status
    and its name, or why nothing ran."""
    statuses = vmm_status.load(root)
    guests = grading.build_guests(root)
    try:
        chosen = choose(root, lab, guest, args, guests, timeout)
    except LookupError as e:
        return None, str(e)
    test = chosen.test
    stage = Stage(root, lab, variant)
    print(f"== stage {lab:02d} ({variant}) in {shown(stage.out, root)}: building", file=out, flush=True)
    try:
        ok, log = stage.build()
    except StageError as e:
        return None, f"the stage was not built: its lab files are not usable:\n{e}"
    for note in stage.notes:
        print(f"note: {note}", file=out)
    if not ok:
        return None, "the stage did not build:\n" + "\n".join(log.strip().splitlines()[-25:])
    name = labs.platform_of(lab, test)
    missing = labs.minikvm_missing(stage.lab, variant) if name == "minikvm" else None
    if missing:
        return None, f"test {test.name} runs on minikvm: {missing}"
    if name == "minikvm":
        ready, why = grading.minikvm_platform_ready(root)
        if not ready:
            return None, f"cannot run minikvm stages here: {why} (see 'make doctor')"
    if capstone.is_linux(test):
        why = capstone.ensure_built(root, guests)
        if why:
            return None, why
    platform = runner.Platform(name, stage, guests, root)
    disk = None
    if test.disk:
        # The disk the grade gives the test, filled the same way; left in place to look at.
        disk = sandbox.fresh_dir(stage.out / "run-disk") / runner.DISK_NAME
        disk.write_bytes(runner.disk_fill(test.disk))
        print(f"== the test's disk: {shown(disk, root)} ({test.disk >> 10} KiB, guest_abi.h ABI_DISK_FILL)", file=out)
    cmd = platform.command(test, test.timeout or platform.default_timeout(), disk=disk)
    what = f"test {test.name}: " if chosen.from_rubric else ""
    print(f"== {what}{shlex.join([test.guest, *test.args])} on {name}", file=out)
    print(f"$ {shlex.join(shown(c, root) for c in cmd)}", file=out, flush=True)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL)
    except OSError as e:
        return None, f"cannot run {cmd[0]}: {e.strerror}"
    except KeyboardInterrupt:
        return None, "interrupted"
    return p.returncode, f"exit status {statuses.describe(p.returncode)}"


def shown(path, root):
    """A path relative to the kit when it is inside it (what the student types)."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)
