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
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import labs, regions, sandbox

VARIANTS = {
    "student": "lab N's regions from labs/, the rest from solution/",
    "solution": "solution/ as it is (SOLUTION=1)",
    "cumulative": "the regions of every lab <= N from labs/ (CUMULATIVE=1)",
    "release": "solution/ with the regions of every lab > N stubbed: what a term release made by 'make dist UPTO=N+1' holds (the reference of labs <= N)",
}

# Stubs leave parameters, labels and helpers unused (and a student's helpers
# region may be empty); every stage build (the solution's included, so both are
# built alike) tolerates that, nothing else.
LAB_CFLAGS = ("-Wno-unused-parameter -Wno-unused-variable -Wno-unused-but-set-variable "
              "-Wno-unused-label -Wno-unused-function -Wno-unused-const-variable")


# A lab file is C source of a few hundred lines; anything far larger is not one.
LAB_FILE_BYTES = 1 << 20
# A stage builds in well under a minute on a slow machine; a build still running
# after this is stuck (a compiler reading a device, a Makefile loop) and is ended.
BUILD_SECONDS = 300
# The build output kept (the log and the error shown): its first and last parts.
BUILD_LOG_BYTES = 256 << 10


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
        # A build of an earlier grade could leave anything here (a link in the tree's place).
        if self.tree.is_symlink() or self.tree.exists() and not self.tree.is_dir():
            self.tree.unlink()
        elif self.tree.exists():
            shutil.rmtree(self.tree)
        shutil.copytree(self.root / "solution", self.tree)
        for rel, laid in bodies.items():
            (self.tree / rel).write_text(regions.render(sources[rel], laid), encoding="utf-8")
        return self.notes

    def targets(self):
        """The VMM, and the bare-metal host when the stage's tests run on minikvm
        (not in a release whose minikvm is still stubbed: those tests are skipped)."""
        host = labs.needs_minikvm(self.lab, self.root) and not labs.minikvm_missing(self.lab, self.variant)
        return ["vmm", "host"] if host else ["vmm"]

    def make_command(self, targets=None):
        return ["make", "-s", f"-j{os.cpu_count() or 2}", "-C", str(self.tree),
                f"O={self.out}", f"STAGE={self.lab}", f"LAB_CFLAGS={LAB_CFLAGS}"] + (targets or self.targets())

    def build(self, targets=None, timeout=BUILD_SECONDS):
        """Prepare and build; returns (ok, log text). StageError when the lab files are unusable.
        The build compiles a student's code: it runs in the sandbox (lib/sandbox.py), where
        only the stage's out dir is writable, for at most `timeout` seconds; its output
        is kept up to BUILD_LOG_BYTES and decoded with replacement."""
        self.prepare()
        sandboxed = sandbox.active()
        unreached = sandbox.unreachable([self.out, self.root]) if sandboxed else None
        if unreached:
            return False, unreached
        cmd = sandbox.wrap(self.make_command(targets), writable=[self.out], limits=sandbox.BUILD)
        ok, timed_out = False, False
        with tempfile.TemporaryFile() as out, sandbox.own_uid() as uid:
            uid = uid if sandboxed else None
            sandbox.give(self.out, uid)
            try:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, **sandbox.identity(uid))
                try:
                    ok = p.wait(timeout) == 0
                except subprocess.TimeoutExpired:
                    timed_out = True
                finally:
                    sandbox.kill_group(p)
                    p.wait()
            finally:
                if uid is not None:
                    sandbox.take_back(self.out)
            text, cut = sandbox.read_capped(out, BUILD_LOG_BYTES, keep_tail=BUILD_LOG_BYTES // 2)
        if timed_out:
            ok = False
            text += f"\nthe build did not finish within {timeout} s and was ended\n"
        sandbox.write_private(self.log, text)
        return ok, text


def shown(path, base):
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def read_lab_file(path, prefix):
    """A lab file's bytes, refused unless it is a regular file of at most
    LAB_FILE_BYTES: opened without following a link (O_NOFOLLOW) and without
    blocking on a FIFO or device (O_NONBLOCK), then checked on the open file, so
    it cannot be swapped between the check and the read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as e:
        if e.errno == 40:      # ELOOP: the file itself is a link
            raise StageError(f"{prefix} is a symbolic link: lab files must be regular files, in directories") from None
        raise StageError(f"{prefix} cannot be read: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise StageError(f"{prefix} is not a regular file (a device, FIFO, socket or directory)")
        if st.st_size > LAB_FILE_BYTES:
            raise StageError(f"{prefix} is {st.st_size} bytes: a lab file has at most {LAB_FILE_BYTES >> 20} MiB")
        data = f.read(LAB_FILE_BYTES + 1)
    if len(data) > LAB_FILE_BYTES:
        raise StageError(f"{prefix} grew past {LAB_FILE_BYTES >> 20} MiB while it was read")
    return data


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
    try:
        theirs = regions.parse(name, read_lab_file(path, prefix).decode("utf-8"), submission=True)
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
