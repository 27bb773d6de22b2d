"""Where a failing student should look: the handout section (and the @lab region)
a failure points at, derived from what the run printed.

In order, the first that applies:

  1. stub       a lab stub ran ("lab NN: fn() not implemented"): the exercise of
                lab NN's handout whose heading names fn;
  2. vmentry    a failed VM-entry check ("vmentry-check: guest CS.AR ..."): the
                exercise whose region writes that field (lib/vmx.py);
  3. diagnose   lib/diagnose.py, when the kit has it, names the cause and the
                region (diagnose.explain(test, status, transcript));
  4. check      the first failing check ("not ok NAME") that the rubric line's
                checks= gives a section of its own;
  5. rubric     the rubric line's section=.

A region is only looked up in the handouts of the labs whose regions the
stage took from labs/ (the graded lab; every lab <= it with CUMULATIVE=1),
because only that code can be the student's mistake.
"""
import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from . import exercises, labs, runner, vmx

SOURCES = ("stub", "vmentry", "diagnose", "check", "rubric")


@dataclass
class Pointer:
    section: str | None          # "exercise-N" of the handout, or None
    exercise: str | None         # the @lab region (function) it points at, when known
    handout: Path | None         # labs/NN-name (the lab directory whose README.md holds the section)
    source: str                  # one of SOURCES: which rule found it
    diagnosis: str | None = None  # a sentence naming the cause (diagnose.explain's reason)
    error: str | None = None     # diagnose.explain raised: the kit's bug, shown to whoever reads notes


def diagnose_module():
    """grader/lib/diagnose.py when the kit has it, else None (an error inside it is not hidden)."""
    if importlib.util.find_spec(f"{__package__}.diagnose") is None:
        return None
    return importlib.import_module(f"{__package__}.diagnose")


def find(root, name, search):
    """(labdir, section) of the first lab in `search` whose handout names `name`."""
    for lab in search:
        d = labs.lab_dir(root, lab)
        section = exercises.section_of(d, name) if d else None
        if section:
            return d, section
    return None, None


def derive(test, status, transcript, root, lab, search=None):
    """The Pointer for a failed run of rubric test `test` of lab `lab`. `search`: the
    labs whose regions are the student's, most likely first (default [lab])."""
    search = list(search or [lab])
    rubric_dir = labs.lab_dir(root, lab)
    transcript = transcript or ""

    todo = runner.TODO.search(transcript)
    if todo:
        stub_lab, fn = int(todo[1]), todo[2]
        d = labs.lab_dir(root, stub_lab)
        section = exercises.section_of(d, fn) if d else None
        if section:
            return Pointer(section, fn, d, "stub")

    for line in transcript.splitlines():
        found = vmx.check_region(line)
        if found is None:
            continue
        region, category = found
        d, section = find(root, region or vmx.GUEST_STATE_REGION, search)
        if section:
            return Pointer(section, region, d, "vmentry")
        break                    # the first failed check decides; the others usually follow from it

    diag, error = None, None
    try:
        module = diagnose_module()
        diag = module.explain(test, status, transcript) if module else None
    except Exception as e:      # noqa: BLE001 - a bug in the kit's diagnosis must not stop grading
        error = f"grader: diagnose.explain failed: {type(e).__name__}: {e}"
    if diag is not None:
        region = getattr(diag, "region", None)
        reason = getattr(diag, "reason", None)
        d, section = find(root, region, search) if region else (None, None)
        if section:
            return Pointer(section, region, d, "diagnose", reason)
        # A region no handout of these labs asks for (the kit's code): the reason
        # still helps, the rubric's section stays.
        return Pointer(check_section(test, transcript) or test.section, None, rubric_dir, "diagnose", reason)

    section = check_section(test, transcript)
    if section:
        return Pointer(section, None, rubric_dir, "check", error=error)
    return Pointer(test.section, None, rubric_dir, "rubric", error=error)


def check_section(test, transcript):
    """The section the rubric's checks= gives the first failing check, or None."""
    for name in re.findall(r"^not ok ([^\s:]+)", transcript, re.M):
        for prefix, section in getattr(test, "checks", ()):
            if name.startswith(prefix):
                return section
        return None              # the first failure decides; later ones usually follow from it
    return None
