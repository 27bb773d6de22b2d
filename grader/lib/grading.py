"""Grading: build a stage, run every test of a rubric on it, score it."""
import concurrent.futures
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import answers, hostcaps, labs, pointer, reproduce, rubric, runner
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


def grade_stage(root, stage, lab, only=None, jobs=2, guests=None, progress=None):
    """Build `stage` and run lab `lab`'s rubric on it, on that lab's platform."""
    tests = rubric_tests(root, lab, only)
    platform_name = labs.runs_on(lab)
    g = LabGrade(lab, stage.variant, platform_name, stage.lab)
    try:
        ok, log = stage.build()
    except StageError as e:
        return g.fail_all(tests, str(e), "the stage was not built: its lab files are not usable")
    except OSError as e:
        ok, log = False, str(e)
    g.notes.extend(stage.notes)
    if not ok:
        return g.fail_all(tests, "\n".join(log.strip().splitlines()[-25:]), "the stage did not build")
    guests = guests or build_guests(root)

    linux = hostcaps.linux_caps()
    # Every platform the tests need: the lab's, and any test's own on=.
    platforms, unusable, skipped = {}, {}, {}
    for name in dict.fromkeys([platform_name] + [labs.platform_of(lab, t) for t in tests]):
        if name == "minikvm":
            ready, why = minikvm_platform_ready(root)
            missing = labs.minikvm_missing(stage.lab, stage.variant) if name != platform_name else None
            if missing:
                skipped[name] = missing
                continue
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
        res = runner.Result(test, verdict, reason, transcript, elapsed, status)
        if name == "minikvm" and reference is not None and verdict == "PASS":  # a failed test needs no second opinion
            lacking = hostcaps.missing(test.needs, linux)
            if lacking:
                res.notes.append("differential: not compared, " + hostcaps.reason_missing(lacking[0]))
            else:
                rstatus, rtranscript, _ = runner.run(reference, test)
                diff = runner.differential((status, transcript), (rstatus, rtranscript))
                if diff:
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
