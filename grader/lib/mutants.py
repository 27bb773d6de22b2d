"""Mutants: real student mistakes, applied to the solution's region bodies, that
a lab's rubric must catch and send to the right exercise (DESIGN.md, grader/).

A lab's catalogue is labs/NN-*/mutants, one mutant a block:

    mutant cs-base-reset-value
    file: vmm/vm.c
    region: vcpu_setup_real
    mistake: CS.base left at KVM's reset value: only CS's selector is set
    @@
    -	struct kvm_segment *segs[] = { &sregs.cs, &sregs.ds, ... };
    +	struct kvm_segment *segs[] = { &sregs.ds, ... };
    @@
    -	sregs.cs.base = (uint64_t)sregs.cs.selector << 4;

- `mutant NAME` opens a mutant (NAME: kebab-case, unique in the catalogue);
- `file:` is the path under solution/ (and under labs/NN-*/), `region:` a lab-NN
  region of that file, `mistake:` one line saying what the student got wrong;
  `note:` (optional, may go on over several note: lines) anything a reviewer
  should know;
- `expect: unit` (optional; the default is `expect: rubric`) says that the
  kit's guests cannot be relied on to catch the mistake (an error path the
  host never takes, a property the kit's own code never exercises, a state
  only some host KVMs refuse): its `note:` says why. Such a mutant must be
  caught by the lab's unit tests; it is reported with the others but neither
  counts against the rubric's catch rate nor is sampled;
- each `@@` opens one edit, written as a diff hunk without line numbers: a
  line ' ' + text is context (kept), '-' + text is removed, '+' + text added.
  The context and removed lines, in order, must be whole lines of the
  solution's region body found there exactly once; they are replaced by the
  context and added lines. Edits apply in order, each to the body the ones
  before it left. A blank line or a line that is none of those ends a hunk;
- `#` lines outside hunks are comments.

A labs tree for a mutant (make_tree) holds, for lab NN, the solution's files
with that one mutant applied: graded as the "student" variant, it is exactly
the submission of a student who made that mistake and nothing else.
"""
import concurrent.futures
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import exercises, grading, labs, regions
from .stage import LAB_CFLAGS, Stage, StageError

CATALOGUE = "mutants"
NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
KEYS = {"file", "region", "mistake", "note", "expect"}
EXPECT = ("rubric", "unit")
REQUIRED = ("file", "region", "mistake")
RESERVED = {"baseline"}          # build/mutants/lab-NN/baseline is the unmutated tree's
CHECK_SUMMARY = re.compile(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")
CHECK_FAILURE = re.compile(r"^[^:\s]+:\d+:[FE]:[^:]*:(\w+):", re.M)   # file:line:F:tcase:test:iteration: message


class CatalogueError(Exception):
    """A catalogue that cannot be read, or a mutant that does not apply to the
    current solution: the message names the catalogue line and the mutant."""


@dataclass
class Edit:
    search: list          # whole lines (each ending in "\n") of the region body
    replace: list
    line: int             # of its '@@' in the catalogue


@dataclass
class Mutant:
    name: str
    lab: int
    file: str             # relative to solution/
    region: str
    mistake: str
    edits: list = field(default_factory=list)
    note: str = ""
    expect: str = ""      # "rubric" (a guest can see the mistake) or "unit" (only the unit tests can)
    where: str = ""       # "labs/NN-*/mutants:LINE", for messages

    @property
    def unit_only(self):
        return self.expect == "unit"

    def __str__(self):
        return f"{self.where}: mutant {self.name}"


# ---- the catalogue ---------------------------------------------------------------

def parse(text, lab, path="mutants"):
    """The mutants of a catalogue's text (lab: the lab it belongs to). Raises
    CatalogueError naming the line."""
    mutants, cur, hunk = [], None, None
    seen = {}

    def close_hunk(no):
        nonlocal hunk
        if hunk is None:
            return
        lines, start = hunk
        hunk = None
        if not any(k in "-+" for k, _ in lines):
            raise CatalogueError(f"{path}:{start}: mutant {cur.name}: an edit with no '-' or '+' line")
        search = [t for k, t in lines if k in " -"]
        if not search:
            raise CatalogueError(f"{path}:{start}: mutant {cur.name}: an edit that only adds lines needs a "
                                 f"context line (' ' + text) to say where")
        cur.edits.append(Edit(search, [t for k, t in lines if k in " +"], start))

    def close_mutant(no):
        close_hunk(no)
        if cur is None:
            return
        missing = [k for k in REQUIRED if not getattr(cur, k)]
        if missing:
            raise CatalogueError(f"{cur}: no {', '.join(k + ':' for k in missing)} line")
        if not cur.edits:
            raise CatalogueError(f"{cur}: no edit ('@@' and its '-'/'+' lines)")
        cur.expect = cur.expect or "rubric"
        if cur.expect not in EXPECT:
            raise CatalogueError(f"{cur}: expect: must be {' or '.join(EXPECT)}, not '{cur.expect}'")
        if cur.unit_only and not cur.note:
            raise CatalogueError(f"{cur}: expect: unit needs a note: saying why no guest can observe the mistake")

    for no, raw in enumerate(text.splitlines(keepends=True), 1):
        line = raw.rstrip("\r\n")
        if hunk is not None and line[:1] in (" ", "-", "+"):
            hunk[0].append((line[0], line[1:] + "\n"))
            continue
        close_hunk(no)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("mutant ") or line == "mutant":
            close_mutant(no)
            name = line[len("mutant"):].strip()
            if not NAME.fullmatch(name) or name in RESERVED:
                raise CatalogueError(f"{path}:{no}: bad mutant name '{name}' (lower-case letters, digits and "
                                     f"'-'; not {', '.join(sorted(RESERVED))})")
            if name in seen:
                raise CatalogueError(f"{path}:{no}: mutant {name} already defined at line {seen[name]}")
            seen[name] = no
            cur = Mutant(name, lab, "", "", "", where=f"{path}:{no}")
            mutants.append(cur)
            continue
        if cur is None:
            raise CatalogueError(f"{path}:{no}: expected 'mutant NAME' before '{line.strip()[:40]}'")
        if line.startswith("@@"):
            hunk = ([], no)
            continue
        key, colon, value = line.partition(":")
        if colon and key.strip() in KEYS and not key[:1].isspace():
            if cur.edits:
                raise CatalogueError(f"{path}:{no}: mutant {cur.name}: '{key}:' after its edits")
            if key == "note" and cur.note:      # a long note goes on over several note: lines
                cur.note += " " + value.strip()
                continue
            if getattr(cur, key):
                raise CatalogueError(f"{path}:{no}: mutant {cur.name}: a second '{key}:' line")
            setattr(cur, key, value.strip())
            continue
        raise CatalogueError(f"{path}:{no}: mutant {cur.name}: expected one of "
                             f"{', '.join(k + ':' for k in sorted(KEYS))}, '@@' or a hunk line "
                             f"(' ', '-', '+'), not '{line[:40]}'")
    close_mutant(None)
    return mutants


def catalogue_path(root, lab):
    d = labs.lab_dir(root, lab)
    return d / CATALOGUE if d else None


def load(root, lab):
    """The mutants of lab `lab` ([] if it has no catalogue)."""
    path = catalogue_path(root, lab)
    if path is None or not path.exists():
        return []
    return parse(path.read_text(encoding="utf-8"), lab, shown(path, root))


def labs_with_catalogues(root):
    return [lab for lab in labs.existing(root) if catalogue_path(root, lab).exists()]


def shown(path, root):
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


# ---- applying a mutant -----------------------------------------------------------

def find_lines(body, search):
    """Indexes i where body[i:i + len(search)] == search."""
    k = len(search)
    return [i for i in range(len(body) - k + 1) if body[i:i + k] == search]


def mutate_body(body, mutant):
    """The region body (list of lines) with the mutant's edits applied, in order."""
    body = list(body)
    for n, e in enumerate(mutant.edits, 1):
        at = find_lines(body, e.search)
        if len(at) != 1:
            what = "not found" if not at else f"found {len(at)} times (at body lines {', '.join(str(i + 1) for i in at)})"
            raise CatalogueError(f"{mutant}: edit {n} (line {e.line}) does not apply to region {mutant.region} of "
                                 f"solution/{mutant.file}: its '-' and ' ' lines are {what}; they must be whole "
                                 f"lines of the region found exactly once")
        body[at[0]:at[0] + len(e.search)] = e.replace
    return body


def source_of(solution, mutant):
    """(Source of the mutant's file, its region), checked against the mutant's lab."""
    path = Path(solution, mutant.file)
    if not path.is_file():
        raise CatalogueError(f"{mutant}: solution/{mutant.file} does not exist")
    try:
        src = regions.parse(path)
    except regions.RegionError as e:
        raise CatalogueError(f"{mutant}: {e}") from None
    region = src.region(mutant.region)
    if region is None or region.kind != "lab":
        names = ", ".join(r.name for r in src.lab_regions(mutant.lab))
        raise CatalogueError(f"{mutant}: solution/{mutant.file} has no lab region {mutant.region} "
                             f"(its lab {mutant.lab:02d} regions: {names or 'none'})")
    if region.lab != mutant.lab:
        raise CatalogueError(f"{mutant}: region {mutant.region} of solution/{mutant.file} belongs to lab "
                             f"{region.lab:02d}, not to lab {mutant.lab:02d}")
    return src, region


def apply(solution, mutant):
    """The text of the mutant's file: the solution's, with the edits applied to
    the region's body (markers and everything else as they are)."""
    src, region = source_of(solution, mutant)
    return regions.render(src, {region.name: mutate_body(region.body, mutant)})


def diff(solution, mutant):
    """A unified diff of the region's body, solution -> mutant (for reviewers)."""
    import difflib
    src, region = source_of(solution, mutant)
    new = mutate_body(region.body, mutant)
    return "".join(difflib.unified_diff(region.body, new, f"solution/{mutant.file} ({region.name})",
                                        f"mutant {mutant.name}", n=1))


def make_tree(root, lab, into, mutant=None):
    """A labs/ tree under `into` whose lab-`lab` files are the solution's files,
    the mutant's (if any) with its edits. Returns `into`."""
    solution = Path(root, "solution")
    labdir = labs.lab_dir(root, lab)
    files = regions.lab_files(solution).get(lab, [])
    if mutant is not None and Path(mutant.file) not in files:
        raise CatalogueError(f"{mutant}: solution/{mutant.file} has no regions of lab {lab:02d}")
    for rel in files:
        dst = Path(into, "labs", labdir.name, rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if mutant is not None and Path(mutant.file) == rel:
            dst.write_text(apply(solution, mutant), encoding="utf-8")
        else:
            shutil.copyfile(solution / rel, dst)
    return Path(into)


def check(root, mutants):
    """Every problem of these mutants against the current solution (one a line)."""
    problems = []
    solution = Path(root, "solution")
    for m in mutants:
        try:
            apply(solution, m)
        except CatalogueError as e:
            problems.append(str(e))
    return problems


# ---- which exercise a failure names ----------------------------------------------

def section_of(root, mutant):
    """The handout section of the mutated region ("exercise-N"), or None."""
    return exercises.section_of(labs.lab_dir(root, mutant.lab), mutant.region)


def result_section(r):
    """The section a failing result sends the student to: the grader's derived
    field where it has one, else the rubric line's section=."""
    return r.section or r.test.section


# ---- sampling --------------------------------------------------------------------

def sample(mutants, n, seed="kvmlabs", section=None):
    """n of the mutants a guest can observe (expect: rubric), chosen
    deterministically for `seed`: in the order of sha256(seed:name), one per
    exercise first, then the rest. section: a function mutant -> its section
    (for the spread)."""
    ranked = sorted((m for m in mutants if not m.unit_only),
                    key=lambda m: hashlib.sha256(f"{seed}:{m.name}".encode()).hexdigest())
    picked, sections = [], set()
    for m in ranked:
        s = section(m) if section else None
        if len(picked) < n and (s is None or s not in sections):
            picked.append(m)
            sections.add(s)
    for m in ranked:
        if len(picked) >= n:
            break
        if m not in picked:
            picked.append(m)
    order = {m.name: i for i, m in enumerate(mutants)}
    return sorted(picked, key=lambda m: order[m.name])


# ---- running ---------------------------------------------------------------------

@dataclass
class Outcome:
    """What the kit's tests made of one mutant."""
    name: str
    lab: int
    file: str
    region: str
    mistake: str
    section: str | None            # the handout section of the mutated region
    expect: str = "rubric"         # the catalogue's expect:
    score: int = 0
    max_score: int = 0
    built: bool = True
    error: str = ""                # the mutant could not be made or built: an error of the catalogue
    failed: list = field(default_factory=list)     # [{"test", "verdict", "reason", "section", "region"}]
    caught: bool | None = None     # by the rubric: score < max
    named: bool | None = None      # some failing test's section is the mutated region's
    unit: str = "not run"          # "caught", "missed", "no tests", "not run", "error"
    unit_detail: str = ""
    seconds: float = 0.0

    @property
    def named_sections(self):
        return sorted({f["section"] for f in self.failed if f["section"]})


def unit_tests(root, lab, tree, out, timeout=600):
    """Build and run lab `lab`'s Check tests against a stage tree.
    Returns (status, detail): status "caught", "missed", "no tests" or "error"."""
    labdir = labs.lab_dir(root, lab)
    if not (labdir / "tests" / "tests.mk").exists():
        return "no tests", ""
    try:
        p = subprocess.run(["make", "-s", "-f", "grader/unittest.mk", f"TREE={tree}", f"LABDIR={labdir}", f"O={out}",
                            f"STAGE={lab}", f"LAB_CFLAGS={LAB_CFLAGS}"], cwd=root, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "caught", f"the unit tests did not finish in {timeout} s"
    summary = CHECK_SUMMARY.findall(p.stdout)
    if not summary:
        tail = [l for l in p.stdout.strip().splitlines() if l.strip()][-3:]
        return "error", "the unit tests did not build or run: " + " | ".join(tail)
    pct, checks, failures, errors = summary[-1]
    failed = sorted(set(CHECK_FAILURE.findall(p.stdout)))
    detail = f"{pct}%: {checks} checks, {failures} failures, {errors} errors"
    if p.returncode == 0:
        return "missed", detail
    return "caught", detail + (f" ({', '.join(failed[:4])})" if failed else "")


def run_mutant(root, mutant, guests, out, unit=True, jobs=2):
    """Grade the labs tree of one mutant (out: its build directory) and, if
    asked, run the lab's unit tests against the same stage. Returns an Outcome."""
    t0 = time.monotonic()
    o = Outcome(mutant.name, mutant.lab, mutant.file, mutant.region, mutant.mistake, section_of(root, mutant),
                mutant.expect)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix=f"kvmlabs-mutant-{mutant.name}-") as tmp:
        try:
            make_tree(root, mutant.lab, tmp, mutant)
        except (CatalogueError, regions.RegionError, OSError) as e:
            o.built, o.error = False, str(e)
            o.seconds = time.monotonic() - t0
            return o
        stage = Stage(root, mutant.lab, "student", labs_root=tmp, out=out)
        g = grading.grade_stage(root, stage, mutant.lab, jobs=jobs, guests=guests)
    o.score, o.max_score = g.score, g.max_score
    if g.build_error:
        o.built = False
        o.error = "the mutant does not build: " + first_line(g.build_error)
        o.seconds = time.monotonic() - t0
        return o
    o.failed = [{"test": r.test.name, "verdict": r.verdict, "reason": r.reason, "section": result_section(r),
                 "region": r.exercise}
                for r in g.results if r.verdict not in ("PASS", "SKIP")]
    o.caught = g.score < g.max_score
    o.named = o.section is not None and o.section in o.named_sections
    if unit:
        o.unit, o.unit_detail = unit_tests(root, mutant.lab, stage.tree, out / "unit")
    o.seconds = time.monotonic() - t0
    return o


def first_line(text):
    from .report import first_error
    return first_error(text)


def run_baseline(root, lab, guests, out, jobs=2):
    """Grade the unmutated labs tree (every region the solution's): (full marks?, detail)."""
    with tempfile.TemporaryDirectory(prefix="kvmlabs-mutant-baseline-") as tmp:
        make_tree(root, lab, tmp)
        g = grading.grade_stage(root, Stage(root, lab, "student", labs_root=tmp, out=out), lab, jobs=jobs,
                                guests=guests)
    if g.build_error:
        return False, "does not build: " + first_line(g.build_error)
    bad = [f"{r.test.name} {r.verdict} ({r.reason})" for r in g.results if r.verdict not in ("PASS", "SKIP")]
    return g.full_marks, f"{g.score}/{g.max_score}" + (f"; {'; '.join(bad[:3])}" if bad else "")


@dataclass
class LabSummary:
    lab: int
    name: str
    mutants: int = 0
    errors: int = 0                # mutants that did not apply or build
    caught: int = 0
    named: int = 0
    unit_caught: int = 0
    unit_run: int = 0              # mutants whose unit tests ran (built and ran, caught or missed)
    visible: int = 0               # mutants that built and a guest can observe (expect: rubric)
    visible_caught: int = 0        # of those, caught by the rubric
    unit_only_missed: list = field(default_factory=list)    # expect: unit, yet the unit tests did not catch it
    unit_only_caught: list = field(default_factory=list)    # expect: unit, yet the rubric caught it
    baseline: str = ""
    baseline_ok: bool = True

    def pct(self, n, of=None):
        of = self.graded if of is None else of
        return 100.0 * n / of if of else 0.0

    @property
    def graded(self):
        return self.mutants - self.errors

    @property
    def rubric_pct(self):
        return self.pct(self.caught)

    @property
    def named_pct(self):
        return self.pct(self.named)

    @property
    def unit_pct(self):
        return self.pct(self.unit_caught, self.unit_run)

    @property
    def visible_pct(self):
        """The rubric's catch rate over the mistakes a guest can observe: what --threshold judges."""
        return self.pct(self.visible_caught, self.visible)


def summarise(root, lab, outcomes, baseline=None):
    labdir = labs.lab_dir(root, lab)
    s = LabSummary(lab, labdir.name if labdir else f"{lab:02d}")
    for o in outcomes:
        s.mutants += 1
        if o.error:
            s.errors += 1
            continue
        s.caught += bool(o.caught)
        s.named += bool(o.named)
        if o.unit in ("caught", "missed"):
            s.unit_run += 1
            s.unit_caught += o.unit == "caught"
        if o.expect == "unit":
            if o.unit == "missed":
                s.unit_only_missed.append(o.name)
            if o.caught:
                s.unit_only_caught.append(o.name)
        else:
            s.visible += 1
            s.visible_caught += bool(o.caught)
    if baseline is not None:
        s.baseline_ok, s.baseline = baseline
    return s


def run_all(root, lab, mutants, out_root, jobs=2, unit=True, test_jobs=2, guests=None, progress=None,
            baseline=True):
    """Run `mutants` of one lab, `jobs` at a time. Returns (LabSummary, [Outcome])."""
    guests = guests or grading.build_guests(root)
    out_root = Path(out_root)
    base = None
    if baseline:
        base = run_baseline(root, lab, guests, out_root / f"lab-{lab:02d}" / "baseline", jobs=test_jobs)
        if not base[0]:
            # A tree without mistakes that does not get full marks says nothing
            # about the mistakes: every outcome would be a false catch.
            return summarise(root, lab, [], base), []
    lock = threading.Lock()

    def one(m):
        o = run_mutant(root, m, guests, out_root / f"lab-{lab:02d}" / m.name, unit=unit, jobs=test_jobs)
        if progress:
            with lock:
                progress(o)
        return o

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(one, mutants))
    return summarise(root, lab, outcomes, base), outcomes


# ---- reports ---------------------------------------------------------------------

def mark(value):
    return {True: "yes", False: "no", None: "-"}[value]


def outcome_line(o):
    if o.error:
        return f"  {o.name:<30} ERROR  {o.error}"
    tests = ", ".join(f"{f['test']} {f['verdict']}" + (f" [{f['section']}]" if f['section'] else "")
                      for f in o.failed[:3]) + (" ..." if len(o.failed) > 3 else "")
    missed = "missed" if o.expect == "unit" else "MISSED"
    return (f"  {o.name:<30} {o.section or '?':<11} rubric {'caught' if o.caught else missed:<6} "
            f"{o.score:>3}/{o.max_score:<3} named {mark(o.named) if o.caught else '-':<3} "
            f"unit {o.unit:<8} {o.seconds:5.1f} s" + (f"  {tests}" if tests else ""))


def table(summaries):
    lines = [f"  {'lab':<16} {'mutants':>7} {'rubric':>7} {'named':>7} {'unit':>7}   {'guest-visible':>13} "
             f"{'rubric':>7}  errors"]
    for s in summaries:
        unit = f"{s.unit_pct:6.0f}%" if s.unit_run else "      -"
        lines.append(f"  {s.name:<16} {s.mutants:>7} {s.rubric_pct:6.0f}% {s.named_pct:6.0f}% {unit}   "
                     f"{s.visible:>13} {s.visible_pct:6.0f}%  {s.errors}" +
                     ("" if s.baseline_ok else f"  baseline not at full marks: {s.baseline}"))
    return "\n".join(lines)


def to_json(summaries, outcomes, meta):
    doc = {"meta": meta, "labs": []}
    by_lab = {}
    for o in outcomes:
        by_lab.setdefault(o.lab, []).append(o)
    for s in summaries:
        doc["labs"].append({
            "lab": s.lab, "name": s.name, "mutants": s.mutants, "errors": s.errors,
            "rubric_caught": s.caught, "rubric_pct": round(s.rubric_pct, 1),
            "named_right": s.named, "named_pct": round(s.named_pct, 1),
            "unit_caught": s.unit_caught, "unit_run": s.unit_run, "unit_pct": round(s.unit_pct, 1),
            "guest_visible": s.visible, "guest_visible_caught": s.visible_caught,
            "guest_visible_pct": round(s.visible_pct, 1),
            "unit_only_missed_by_unit_tests": s.unit_only_missed, "unit_only_caught_by_rubric": s.unit_only_caught,
            "baseline_ok": s.baseline_ok, "baseline": s.baseline,
            "survivors": [o.name for o in by_lab.get(s.lab, []) if not o.error and not o.caught],
            "outcomes": [dict(asdict(o), named_sections=o.named_sections) for o in by_lab.get(s.lab, [])],
        })
    return json.dumps(doc, indent=2) + "\n"
