"""Grading: build a stage, run every test of a rubric on it, score it."""
import concurrent.futures
import fcntl
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import answers, capstone, hostcaps, labs, pointer, reproduce, rubric, runner, sandbox
from .answers import Answers
from .stage import Stage, StageError


@dataclass
class LabGrade:
    lab: int                     # the rubric's lab
    variant: str
    platform: str
    stage: int | None = None     # the stage it ran on (the lab's own, unless a kit test says otherwise)
    results: list = field(default_factory=list)
    build_error: str | None = None
    notes: list = field(default_factory=list)
    answers: Answers | None = None   # the written answers (no points); None: not checked

    @property
    def score(self):
        return sum(r.score for r in self.results)

    @property
    def max_score(self):
        return sum(r.test.points for r in self.results if r.verdict != "SKIP")

    @property
    def skipped_points(self):
        return sum(r.test.points for r in self.results if r.verdict == "SKIP")

    @property
    def full_marks(self):
        return self.build_error is None and self.score == self.max_score and self.max_score > 0

    def fail_all(self, tests, error, reason):
        self.build_error = error
        self.results = [runner.Result(t, "FAIL", reason) for t in tests]
        return self


def build_guests(root):
    out = Path(root, "build", "guests")
    p = subprocess.run(["make", "-s", "-C", str(Path(root, "grader", "guests")), f"O={out}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode:
        raise RuntimeError("building the guest images failed:\n" + p.stdout[-3000:])
    return out


def minikvm_platform_ready(root):
    if not Path(root, "grader", "baremetal", "run").exists():
        return False, "grader/baremetal/run is missing"
    return True, ""


def rubric_tests(root, lab, only=None):
    tests = rubric.parse(labs.lab_dir(root, lab) / "rubric")
    return [t for t in tests if t.name in only] if only else tests


def grade_lab(root, lab, variant="student", labs_root=None, out=None, only=None, jobs=2, guests=None,
              progress=None):
    """Grade lab `lab` on its own stage (variant: stage.VARIANTS), and check the
    student's written answers (not for the solution or a release)."""
    g = grade_stage(root, Stage(root, lab, variant, labs_root, out), lab, only, jobs, guests, progress)
    if variant in ("student", "cumulative"):
        g.answers = check_answers(root, lab, labs_root)
    return g


def check_answers(root, lab, labs_root=None):
    """answers.md of lab `lab` in labs_root (a submission; default root) against the
    questions of the kit's own handout. None when the handout has no questions."""
    handout = labs.lab_dir(root, lab)
    if handout is None:
        return None
    mine = labs.lab_dir(labs_root or root, lab)
    return answers.check(handout, mine, shown=f"labs/{handout.name}/answers.md")


def point(res, root, stage, lab):
    """Set where a failed result points (lib/pointer.py) and the command that reproduces it."""
    search = sorted(stage.overlay_labs() or [lab], key=lambda n: (n != lab, -n))
    p = pointer.derive(res.test, res.status, res.transcript, root, lab, search)
    res.section, res.exercise, res.pointed_by, res.diagnosis = p.section, p.exercise, p.source, p.diagnosis
    if p.handout is not None:
        try:
            res.handout = str(Path(p.handout).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            res.handout = str(p.handout)
    if p.error:
        res.notes.append(p.error)
    res.rerun = reproduce.rerun_command(stage.lab, res.test, stage.variant)
    return res


# The build error a grade keeps: the log's last lines, each cut to a width.
BUILD_ERROR_LINES, BUILD_ERROR_WIDTH = 25, 400
# How long a grade waits for another grader that builds into the same directory.
LOCK_WAIT_SECONDS = 1800


class StageLock:
    """The out dir of a stage is one grader's at a time: two graders on one checkout
    (two 'make grade' in two terminals) would rebuild each other's stage mid-run.
    An flock on OUT.lock, which names its holder; a second grader says who holds
    it and waits. The kernel drops the lock when its holder dies."""

    def __init__(self, out, timeout=LOCK_WAIT_SECONDS):
        self.path = Path(str(out) + ".lock")
        self.timeout = timeout
        self.fd = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 300, 0).decode("utf-8", "replace").strip() or "another grader"
            print(f"grade: {self.path.parent.name}/{self.path.name} is held by {holder}; waiting for it",
                  file=sys.stderr, flush=True)
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(self.fd)
                        raise RuntimeError(f"{self.path} is still held by {holder} after {self.timeout} s")
                    time.sleep(0.5)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()} ({' '.join(sys.argv)[:200]})\n".encode(), 0)
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        os.close(self.fd)      # releases the flock


def build_error(log):
    """The part of a build log a grade keeps: its last lines, each of bounded width."""
    lines = log.strip().splitlines()[-BUILD_ERROR_LINES:]
    return "\n".join(l if len(l) <= BUILD_ERROR_WIDTH else l[:BUILD_ERROR_WIDTH] + " [... cut]" for l in lines)


def grade_stage(root, stage, lab, only=None, jobs=2, guests=None, progress=None):
    """Build `stage` and run lab `lab`'s rubric on it, on that lab's platform. The
    stage's out dir is locked while it is built and run (StageLock)."""
    with StageLock(stage.out):
        return _grade_stage(root, stage, lab, only, jobs, guests, progress)


def _grade_stage(root, stage, lab, only, jobs, guests, progress):
    tests = rubric_tests(root, lab, only)
    platform_name = labs.runs_on(lab)
    g = LabGrade(lab, stage.variant, platform_name, stage.lab)
    unsandboxed = sandbox.note()
    if unsandboxed and stage.variant in ("student", "cumulative"):
        g.notes.append(unsandboxed)
    try:
        ok, log = stage.build()
    except StageError as e:
        return g.fail_all(tests, str(e), "the stage was not built: its lab files are not usable")
    except OSError as e:
        ok, log = False, str(e)
    g.notes.extend(stage.notes)
    if not ok:
        return g.fail_all(tests, build_error(log), "the stage did not build")
    # The build could write the out dir: the runs' directory is made anew, the grader's.
    sandbox.fresh_dir(stage.out / "runs")
    guests = guests or build_guests(root)
    unreached = sandbox.unreachable([stage.out, guests]) if sandbox.active() else None
    if unreached:
        return g.fail_all(tests, unreached, "the sandbox cannot reach the stage")
    guests = guests or build_guests(root)
    if any(capstone.is_linux(t) for t in tests):
        why = capstone.ensure_built(root, guests)
        if why:
            return g.fail_all(tests, why, "the kit's Linux is missing")
    absent = sorted({t.guest for t in tests if not Path(guests, t.guest).is_file()})
    if absent:
        return g.fail_all(tests, f"the rubric names guest images that were not built in {guests}: "
                          f"{', '.join(absent)} (grader/guests/guests.list and its Makefile list the images)",
                          "a guest image is missing")

    linux = hostcaps.linux_caps()
    # Every platform the tests need: the lab's, and any test's own on=.
    platforms, unusable, skipped = {}, {}, {}
    for name in dict.fromkeys([platform_name] + [labs.platform_of(lab, t) for t in tests]):
        if name == "minikvm":
            missing = labs.minikvm_missing(stage.lab, stage.variant) if name != platform_name else None
            if missing:
                skipped[name] = missing
                continue
            ready, why = minikvm_platform_ready(root)
            if not ready:
                unusable[name] = f"cannot run minikvm stages here: {why} (see 'make doctor')"
                continue
        elif linux is None:
            unusable[name] = f"cannot run Linux KVM stages: {hostcaps.kvm_usable()[1]} (see 'make doctor')"
            continue
        platforms[name] = runner.Platform(name, stage, guests, root)
    if platform_name in unusable:
        return g.fail_all(tests, unusable[platform_name],
                          "no platform for minikvm" if platform_name == "minikvm" else "no /dev/kvm")
    # A minikvm run that passes is compared with Linux KVM's, where this host has one.
    reference = runner.Platform("linux-kvm", stage, guests, root) if linux is not None else None
    if "minikvm" in platforms and reference is None:
        g.notes.append("differential run skipped: Linux KVM is not usable here")

    printing = threading.Lock()     # one result's lines at a time

    def one(test):
        name = labs.platform_of(lab, test)
        if name in skipped:
            return runner.Result(test, "SKIP", skipped[name])
        if name in unusable:
            return runner.Result(test, "FAIL", unusable[name])
        primary = platforms[name]
        if name == "linux-kvm":
            lacking = hostcaps.missing(test.needs, linux)
            if lacking:
                return runner.Result(test, "SKIP", "host KVM cannot run this guest: " +
                                     "; ".join(hostcaps.reason_missing(n) for n in lacking))
        status, transcript, elapsed = runner.run(primary, test)
        verdict, reason = runner.judge(test, status, transcript)
        flood = runner.flooded(transcript)
        if flood and verdict != "PASS":
            reason = flood
        if verdict != "PASS" and capstone.is_linux(test):
            reason = "; ".join(x for x in (reason, capstone.phases(transcript)) if x)
        res = runner.Result(test, verdict, reason, transcript, elapsed, status)
        if name == "minikvm" and reference is not None and verdict == "PASS":  # a failed test needs no second opinion
            lacking = hostcaps.missing(test.needs, linux)
            if lacking:
                res.notes.append("differential: not compared, " + hostcaps.reason_missing(lacking[0]))
            else:
                rstatus, rtranscript, _ = runner.run(reference, test)
                diff = runner.differential((status, transcript), (rstatus, rtranscript))
                disk = getattr(rtranscript, "disk_problem", "")
                if disk:    # the disk file is checked where it is a file: on Linux KVM
                    res.verdict, res.reason = "FAIL", f"on Linux KVM, {disk}"
                elif diff:
                    res.verdict, res.reason = "FAIL", "behaves differently from Linux KVM"
                    res.notes.append(diff)
                else:
                    res.notes.append("differential: same report lines as Linux KVM")
        if res.verdict in ("FAIL", "TIMEOUT", "CRASH"):
            point(res, root, stage, lab)
        if progress:
            with printing:
                progress(res)
        return res

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        g.results = list(pool.map(one, tests))
    return g
