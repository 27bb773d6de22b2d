"""Grading one lab: build the stage, run every rubric test, score it."""
import concurrent.futures
import os
import subprocess

from . import hostcaps, labs, rubric, runner
from .stage import Stage

TAIL_LINES = 15


class LabGrade:
    def __init__(self, lab, variant, platform_name):
        self.lab, self.variant, self.platform = lab, variant, platform_name
        self.results, self.build_error, self.notes = [], None, []

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


def build_guests(root):
    p = subprocess.run(["make", "-s", "-C", os.path.join(root, "grader", "guests"),
                        f"O={os.path.join(root, 'build', 'guests')}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode:
        raise RuntimeError("building the guest images failed:\n" + p.stdout[-3000:])
    return os.path.join(root, "build", "guests")


def minikvm_platform_ready(root):
    run = os.path.join(root, "grader", "baremetal", "run")
    if not os.path.exists(run):
        return False, "grader/baremetal/run is missing"
    return True, ""


def grade_lab(root, lab, variant="student", labs_root=None, out=None, only=None, jobs=2, guests=None,
              progress=None):
    tests = rubric.parse(os.path.join(labs.lab_dir(root, lab), "rubric"))
    if only:
        tests = [t for t in tests if t.name in only]
    platform_name = labs.PLATFORM[lab]
    if platform_name == "both":
        platform_name = "linux-kvm"
    g = LabGrade(lab, variant, platform_name)
    stage = Stage(root, lab, variant, labs_root, out)
    names = hostcaps.vmm_status_names(root)
    guests = guests or build_guests(root)
    try:
        ok, log = stage.build()
    except (FileNotFoundError, OSError) as e:
        ok, log = False, str(e)
    if not ok:
        g.build_error = "\n".join(log.strip().splitlines()[-25:])
        g.results = [runner.Result(t, "FAIL", "the stage did not build") for t in tests]
        return g

    linux = hostcaps.linux_caps()
    primary = runner.Platform(platform_name, stage, guests, root)
    reference = None
    if platform_name == "minikvm":
        ready, why = minikvm_platform_ready(root)
        if not ready:
            g.build_error = f"cannot run minikvm stages here: {why} (see 'make doctor')"
            g.results = [runner.Result(t, "FAIL", "no platform for minikvm") for t in tests]
            return g
        if linux is not None:
            reference = runner.Platform("linux-kvm", stage, guests, root)
        else:
            g.notes.append("differential run skipped: Linux KVM is not usable here")
    elif linux is None:
        _, why = hostcaps.kvm_usable()
        g.build_error = f"cannot run Linux KVM stages: {why} (see 'make doctor')"
        g.results = [runner.Result(t, "FAIL", "no /dev/kvm") for t in tests]
        return g

    def one(test):
        if platform_name == "linux-kvm":
            lacking = hostcaps.missing(test.needs, linux)
            if lacking:
                return runner.Result(test, "SKIP", "host KVM cannot run this guest: " +
                                     "; ".join(hostcaps.reason_missing(n) for n in lacking))
        status, transcript, elapsed = runner.run(primary, test)
        verdict, reason = runner.judge(test, status, transcript, names)
        res = runner.Result(test, verdict, reason, transcript, elapsed, status)
        if reference is not None and verdict == "PASS":  # a failed test needs no second opinion
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
        if progress:
            progress(res)
        return res

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        g.results = list(pool.map(one, tests))
    return g
