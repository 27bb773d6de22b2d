"""Building a stage (DESIGN.md, Stages): a copy of solution/ in which the bodies
of some labs' regions are laid in by region name, compiled with STAGE=N.

Everything outside those bodies (the markers, the provided code, the regions of
other labs) comes from the current solution, so provided code can evolve lab
after lab while a student's work is only what they wrote inside their regions.
A student's file that lost a region, gained an unknown one or has malformed
markers stops the stage before anything is compiled (StageError); edits outside
the regions are only noted (they are not used).
"""
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import labs, regions

VARIANTS = {
    "student": "lab N's regions from labs/, the rest from solution/",
    "solution": "solution/ as it is (SOLUTION=1)",
    "cumulative": "the regions of every lab <= N from labs/ (CUMULATIVE=1)",
    "release": "solution/ with the regions of every lab > N stubbed: the kit as a term release up to lab N has it",
}

# Stubs leave parameters, labels and helpers unused (and a student's helpers
# region may be empty); every stage build (the solution's included, so both are
# built alike) tolerates that, nothing else.
LAB_CFLAGS = ("-Wno-unused-parameter -Wno-unused-variable -Wno-unused-but-set-variable "
              "-Wno-unused-label -Wno-unused-function -Wno-unused-const-variable")


class StageError(Exception):
    """The stage cannot be made from these lab files: every problem, one a line,
    each naming the lab, the file and the region."""


@dataclass
class Stage:
    root: Path
    lab: int
    variant: str = "student"
    labs_root: Path | None = None        # a submission's checkout (batch grading); default root
    out: Path | None = None              # the build directory; default build/lab-NN[-variant]
    notes: list = field(default_factory=list, init=False)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown stage variant {self.variant} (variants: {', '.join(VARIANTS)})")
        self.root = Path(self.root).resolve()
        self.labs_root = Path(self.labs_root or self.root).resolve()
        suffix = "" if self.variant == "student" else f"-{self.variant}"
        self.out = Path(self.out or self.root / "build" / f"lab-{self.lab:02d}{suffix}").resolve()

    @property
    def tree(self):
        return self.out / "solution"

    @property
    def vmm(self):
        return self.out / "vmm"

    @property
    def host_image(self):
        return self.out / "host" / "kvmlabs.img"

    @property
    def log(self):
        return self.out / "build.log"

    def overlay_labs(self):
        """The labs whose region bodies come from labs/."""
        return {"student": [self.lab], "cumulative": list(range(1, self.lab + 1))}.get(self.variant, [])

    def plan(self):
        """(solution sources, {relative path: {region name: body lines}}): what to lay
        over the copy of solution/. Raises StageError; records notes."""
        self.notes = []
        sources = regions.scan(self.root / "solution")
        bodies, problems = {}, []
        if self.variant == "release":
            for rel, src in sources.items():
                later = {r.name: r.stub_lines() for r in src.lab_regions() if r.lab > self.lab}
                if later:
                    bodies[rel] = later
        for lab in self.overlay_labs():
            files = [rel for rel, src in sources.items() if lab in src.labs()]
            if not files:
                continue
            labdir = labs.lab_dir(self.labs_root, lab)
            if labdir is None:
                problems.append(f"lab {lab:02d}: there is no labs/{lab:02d}-* directory to take the lab's "
                                f"regions from (in {', '.join(map(str, files))})")
                continue
            for rel in files:
                try:
                    taken, note = take_regions(sources[rel], rel, lab, labdir / rel, self.labs_root)
                except StageError as e:
                    problems.append(str(e))
                    continue
                bodies.setdefault(rel, {}).update(taken)
                if note:
                    self.notes.append(note)
        if problems:
            raise StageError("\n".join(problems))
        return sources, bodies

    def prepare(self):
        """Copy solution/ into the stage tree and lay the region bodies in. Returns the notes."""
        sources, bodies = self.plan()      # every problem is found before the tree is touched
        if self.tree.exists():
            shutil.rmtree(self.tree)
        shutil.copytree(self.root / "solution", self.tree)
        for rel, laid in bodies.items():
            (self.tree / rel).write_text(regions.render(sources[rel], laid), encoding="utf-8")
        return self.notes

    def targets(self):
        return ["vmm", "host"] if labs.needs_minikvm(self.lab, self.root) else ["vmm"]

    def make_command(self, targets=None):
        return ["make", "-s", f"-j{os.cpu_count() or 2}", "-C", str(self.tree),
                f"O={self.out}", f"STAGE={self.lab}", f"LAB_CFLAGS={LAB_CFLAGS}"] + (targets or self.targets())

    def build(self, targets=None):
        """Prepare and build; returns (ok, log text). StageError when the lab files are unusable."""
        self.prepare()
        p = subprocess.run(self.make_command(targets), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log.write_text(p.stdout)
        return p.returncode == 0, p.stdout


def shown(path, base):
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def take_regions(solution, rel, lab, path, labs_root):
    """The bodies of lab `lab`'s regions in a student's file `path`, checked against
    the solution's file `solution` (a Source): ({name: body lines}, note or None)."""
    name = shown(path, labs_root)
    prefix = f"lab {lab:02d}: {name}"
    linked = [p for p in [path, *path.parents] if p.is_symlink() and p.is_relative_to(labs_root) and p != labs_root]
    if linked:
        what = prefix if linked[-1] == path else f"{prefix}: {shown(linked[-1], labs_root)}"
        raise StageError(f"{what} is a symbolic link: lab files must be regular files, in directories")
    if not path.exists():
        names = [r.name for r in solution.lab_regions(lab)]
        wanted = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise StageError(f"{prefix} is missing: it holds the lab's regions {wanted} (solution/{rel})")
    if not path.is_file():
        raise StageError(f"{prefix} is not a regular file")
    try:
        theirs = regions.parse(name, path.read_text(encoding="utf-8"), submission=True)
    except UnicodeDecodeError:
        raise StageError(f"{prefix} is not UTF-8 text") from None
    except regions.RegionError as e:
        raise StageError(f"lab {lab:02d}: {e}") from None

    want = {r.name: r for r in solution.lab_regions(lab)}
    have = {r.name: r for r in theirs.lab_regions(lab)}
    unknown = [r for r in theirs.lab_regions(lab) if r.name not in want]
    problems = []
    for r in want.values():
        if r.name in have:
            continue
        other = theirs.region(r.name)
        if other is not None and other.kind == "lab":
            problems.append(f"{prefix}:{other.start}: region {r.name} is marked '@lab {other.lab:02d}'; "
                            f"it is a region of lab {lab:02d} ('// @lab {lab:02d} {r.name}: ...')")
        elif other is not None:
            problems.append(f"{prefix}:{other.start}: {r.name} must be '// @lab {lab:02d} {r.name}: ...', "
                            f"not '// @region {r.name}'")
        else:
            hint = ""
            if unknown:
                hint = ("; the file has " + ", ".join(f"{u.name} (line {u.start})" for u in unknown) +
                        ", unknown to solution/: renamed? Region names must stay as the skeleton has them")
            problems.append(f"{prefix}: region {r.name} ('// @lab {lab:02d} {r.name}: ...' ... '// @end') "
                            f"is missing{hint}")
    for u in unknown:
        problems.append(f"{prefix}:{u.start}: region {u.name} is not a lab {lab:02d} region of solution/{rel} "
                        f"(its lab {lab:02d} regions: {', '.join(want)})")
    if problems:
        raise StageError("\n".join(problems))
    return {n: have[n].body for n in want}, outside_note(solution, theirs, rel, lab, prefix)


def outside_note(solution, theirs, rel, lab, prefix):
    """A note when the student's file differs from its skeleton outside lab `lab`'s
    region bodies: that text is not used, the stage takes it from solution/."""
    skeleton = regions.parse("skeleton", regions.skeleton_text(solution, lab), submission=True)
    mine, base = regions.frame(theirs, lab), regions.frame(skeleton, lab)
    for (no, a), (_, b) in zip(mine, base):
        if a != b:
            break
    else:
        if len(mine) == len(base):
            return None
        no = mine[len(base)][0] if len(mine) > len(base) else len(theirs.lines)
    return (f"{prefix}:{no}: differs from the skeleton outside the lab {lab:02d} regions; changes there are "
            f"not used (the stage takes that code from solution/{rel}): put your code inside your regions")
