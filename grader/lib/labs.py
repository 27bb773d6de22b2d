"""The labs of the kit: where they are and which platform grades them."""
import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABS = range(1, 10)

# DESIGN.md's stage table: which kernel a lab's guests run on.
PLATFORM = {1: "linux-kvm", 2: "linux-kvm", 3: "linux-kvm", 4: "minikvm", 5: "minikvm",
            6: "minikvm", 7: "minikvm", 8: "minikvm", 9: "both"}


# The first lab whose stage has minikvm's VMX code: a term release of an earlier
# stage has it stubbed, so its tests on minikvm (on=minikvm) cannot run there.
MINIKVM_LAB = min(lab for lab, where in PLATFORM.items() if where != "linux-kvm")


def runs_on(lab):
    """The platform a lab's rubric runs on first. "both" (lab 09: the VMM's devices on
    either kernel) grades on the student's minikvm, and every passing run is run again
    on Linux KVM and compared, as for the minikvm labs (grading.py)."""
    return "minikvm" if PLATFORM[lab] == "both" else PLATFORM[lab]


def needs_minikvm(lab, root=ROOT):
    """Whether stage `lab` builds the bare-metal host (minikvm) as well as the VMM:
    its lab runs there, or one of its rubric's tests does (on=minikvm)."""
    if PLATFORM[lab] != "linux-kvm":
        return True
    from . import rubric            # rubric needs nothing from here; imported late to stay light
    d = lab_dir(root, lab)
    path = d / "rubric" if d else None
    return bool(path and path.exists()) and any(t.on == "minikvm" for t in rubric.parse(path))


def minikvm_missing(stage_lab, variant):
    """Why a stage cannot run minikvm tests, or None: a release before MINIKVM_LAB
    has minikvm's exercises stubbed."""
    if variant == "release" and stage_lab < MINIKVM_LAB:
        return (f"minikvm comes with lab {MINIKVM_LAB:02d}: a release of stage {stage_lab:02d} has it stubbed, "
                f"so this test runs only where the reference minikvm is (the course's grader)")
    return None


def platform_of(lab, test):
    """The platform one rubric test runs on: its own on=, else the lab's."""
    return test.on or runs_on(lab)


def lab_dir(root, lab):
    """labs/NN-name under root (a kit checkout), or None."""
    found = sorted(Path(root, "labs").glob(f"{lab:02d}-*"))
    return found[0] if found else None


def existing(root):
    """Numbers of the labs that have a directory and a rubric."""
    return [int(d.name[:2]) for d in sorted(Path(root, "labs").glob("[0-9][0-9]-*")) if (d / "rubric").exists()]


def graded_at(root, stage):
    """The highest lab <= stage that has a rubric: what stage N's guests are (None if none)."""
    have = [lab for lab in existing(root) if lab <= stage]
    return have[-1] if have else None


def parse_lab(text):
    """A lab number from the command line ("04" or "4"); an argparse type."""
    s = str(text).strip()
    if not s.isdigit() or not 1 <= int(s) <= 9:
        raise argparse.ArgumentTypeError(f"LAB must be a lab number 01..09, not '{text}'")
    return int(s)
