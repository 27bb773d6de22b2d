"""Releasing the kit: the tree students get for a term, and the autograder zips.

A term release up to lab N (make dist UPTO=N) is a fresh tree made from the
kit's last commit in which

  - solution/ holds the reference bodies of the labs before N only: every
    '@lab' region of lab N and later holds its stub, as a skeleton does (the
    markers and '// @stub' lines stay, so the grader's stages work unchanged);
  - every lab's handout, rubric, unit tests and answers template are there
    (the book quotes every handout's questions, and a handout holds no
    answers); each lab's skeleton files are generated again from the released
    solution, so a file of a later lab carries stubs, not bodies, of the labs
    before it that are not released yet;
  - no mutant catalogue (labs/NN-*/mutants) and no mutation tool (grader/mutants,
    grader/lib/mutants.py): each entry quotes the solution's lines it breaks,
    the tool's documentation quotes one too, and mutation testing checks the
    rubrics, which is the course's work, not the students';
  - the kit's own tests (grader/tests/) and CI (.ci/) stay home: they check
    the whole reference and quote its lines (grader/selftest goes out: it runs
    a lab's unit tests, make test-lab);
  - the book is built from the released tree into book/built/, so it shows what
    the released solution has and nothing more;
  - .github/workflows/grade.yml is the GitHub Classroom workflow
    (grader/classroom/grade.yml).

UPTO=0 (or none) is the term's start: no reference code at all (UPTO=1 too).

leaks() is the check that nothing withheld got out: every telling line of a
withheld region body is looked for in every file of the release, the PDF
(through pdftotext) and the HTML (tags stripped) included.
"""
import contextlib
import html
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from . import labs, regions
from .stage import LAB_CFLAGS

# What a release never carries, besides build output and version control.
WITHHELD_ALWAYS = ("grader/tests", ".ci", "grader/mutants", "grader/lib/mutants.py")
BOOK_OUT = Path("book") / "built"
WORKFLOW = Path(".github") / "workflows" / "grade.yml"
# A withheld line shorter than this (stripped) says too little to be an answer
# (`break;`, `return 0;`, `} else {`): such lines occur in any C file.
MIN_TELLING = 14
# Packages grading does without (prefixes): the book's (texlive alone is over a
# gigabyte), the fuzzers' and sanitizers' (clang, llvm), the debugger, and QEMU,
# which runs minikvm only with nested VMX on /dev/kvm (without it, Bochs does).
NOT_FOR_GRADING = ("pandoc", "graphviz", "poppler-utils", "texlive-", "lmodern", "fonts-", "nodejs",
                   "clang", "llvm", "libclang-rt-", "gdb", "qemu-")
AUTOGRADER_FILES = Path(__file__).resolve().parents[1] / "gradescope"


class DistError(Exception):
    pass


def tracked_files(root):
    """The kit's files as version control knows them (relative paths), without
    build output or stray files; every file under root when it is no git checkout."""
    root = Path(root)
    p = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    if p.returncode == 0 and p.stdout:
        names = [Path(n) for n in p.stdout.decode().split("\0") if n]
        return [n for n in names if (root / n).is_file() and not (root / n).is_symlink()]
    return sorted(q.relative_to(root) for q in root.rglob("*")
                  if q.is_file() and not {".git", "build"} & set(q.relative_to(root).parts))


def released_bodies(src, upto):
    """{region name: stub lines} for the regions of src that a release up to lab
    `upto` withholds: every lab >= upto (all of them when upto is 0)."""
    return {r.name: r.stub_lines() for r in src.lab_regions() if r.lab >= max(upto, 1)}


def withheld(src, upto):
    return [r for r in src.lab_regions() if r.lab >= max(upto, 1)]


def norm(line):
    return " ".join(line.split())


# Files the kit's authors wrote for their own purpose beside solution/ (guests,
# unit tests and their doubles, fuzz and bench harnesses): a line they share
# with a region body (`uint64_t cr0 = read_cr0();`, a local of the same type) is
# an idiom of the code, not a copy of an answer. Everything else the release
# ships (solution/, skeletons, handouts, catalogues, the book) must not have it.
OWN_CODE = ("grader/guests/", "grader/unittest/", "grader/bench/", "fuzz/")


def own_code(rel):
    p = rel.as_posix()
    return p.startswith(OWN_CODE) or (len(rel.parts) > 3 and rel.parts[0] == "labs" and rel.parts[2] == "tests")


def telling_lines(root, upto):
    """{normalized line: 'solution/FILE:LINE (region)'}: the lines of withheld
    region bodies that would give an answer away. Left out: short lines, and
    lines that also occur in what the release shows of solution/ (provided code
    and stubs) or in the kit's own code beside it (OWN_CODE), which are no secret."""
    root = Path(root)
    sources = regions.scan(root / "solution")
    shown = set()
    for path in regions.source_files(root / "solution"):
        rel = path.relative_to(root / "solution")
        src = sources.get(rel)
        text = regions.render(src, released_bodies(src, upto)) if src else path.read_text(encoding="utf-8")
        shown.update(norm(l) for l in text.splitlines())
    for rel in tracked_files(root):
        if own_code(rel) and rel.name.endswith(regions.SOURCE_SUFFIXES):
            shown.update(norm(l) for l in (root / rel).read_text(encoding="utf-8", errors="replace").splitlines())
    out = {}
    for rel, src in sources.items():
        for r in withheld(src, upto):
            for i, line in enumerate(r.body):
                n = norm(line)
                # A comment must say more than a code line to give anything away.
                if n not in shown and len(n) >= MIN_TELLING * (2 if n.startswith(("//", "/*", "*")) else 1):
                    out.setdefault(n, f"solution/{rel}:{r.start + 1 + i} ({r.name}, lab {r.lab:02d})")
    return out


@contextlib.contextmanager
def committed(root, log=print):
    """The kit's last commit, unpacked in a temporary directory (root itself when
    it is no git checkout): a release or an autograder holds what was committed,
    never a half-done edit or a stray file of the checkout."""
    root = Path(root)
    if not (root / ".git").exists():
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="kvmlabs-head-") as tmp:
        archive = subprocess.Popen(["git", "-C", str(root), "archive", "--format=tar", "HEAD"],
                                   stdout=subprocess.PIPE)
        untar = subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout)
        archive.stdout.close()
        if archive.wait() or untar.returncode:
            raise DistError(f"could not unpack the last commit of {root} (git archive HEAD)")
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                 stdout=subprocess.PIPE, text=True).stdout.splitlines()
        if changed:
            log(f"dist: note: {len(changed)} changed file(s) of the checkout are left out: "
                f"only the last commit is released (git status)")
        yield Path(tmp)


def release(root, out, upto=0, book=True, git=True, version=None, log=print):
    """Write the release up to lab `upto` of the kit's last commit into the
    directory out (made afresh), then look for withheld lines in it: DistError
    naming each one found."""
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root in out.parents and out.relative_to(root).parts[0] != "build":
        raise DistError(f"{out}: a release goes outside the kit (or under build/), not into it")
    if out.exists():
        if not (out / "solution").is_dir() and any(out.iterdir()):
            raise DistError(f"{out} exists and is not a release: remove it or pick another OUT")
        shutil.rmtree(out)
    version = version or describe(root, upto)
    with committed(root, log) as src:
        release_from(src, out, upto, book, git, version, log)
        found = leaks(out, telling_lines(src, upto))
    if found:
        raise DistError("\n".join([f"{path}: has '{line}' from {origin}" for path, line, origin in found[:50]] +
                                  [f"{len(found)} withheld line(s) in the release {out}"]))
    return out


def release_from(root, out, upto, book, git, version, log):
    files = tracked_files(root)
    sources = regions.scan(root / "solution")
    skipped = []
    for rel in files:
        parts = rel.parts
        if any(rel.as_posix() == w or rel.as_posix().startswith(w + "/") for w in WITHHELD_ALWAYS):
            skipped.append(rel)
            continue
        if len(parts) == 3 and parts[0] == "labs" and parts[2] == "mutants":
            skipped.append(rel)
            continue
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        srel = Path(*parts[1:]) if parts[0] == "solution" else None
        if srel is not None and srel in sources:
            dst.write_text(regions.render(sources[srel], released_bodies(sources[srel], upto)), encoding="utf-8")
        else:
            shutil.copy2(root / rel, dst)
    # Each lab's skeleton files again, from the released solution: a later lab's
    # file holds the bodies of the labs before it, which may be withheld.
    released = regions.scan(out / "solution")
    for lab, rels in regions.lab_files(released).items():
        labdir = labs.lab_dir(out, lab)
        if labdir is None:
            raise DistError(f"solution/ has regions of lab {lab:02d} but there is no labs/{lab:02d}-* directory")
        for rel in rels:
            (labdir / rel).parent.mkdir(parents=True, exist_ok=True)
            (labdir / rel).write_text(regions.skeleton_text(released[rel], lab), encoding="utf-8")
    workflow = root / "grader" / "classroom" / "grade.yml"
    if workflow.exists():
        (out / WORKFLOW).parent.mkdir(parents=True, exist_ok=True)
        text = workflow.read_text(encoding="utf-8").replace("@LAB@", f"{max(upto, 1):02d}")
        (out / WORKFLOW).write_text(text, encoding="utf-8")
    note_readme(out, upto, book)
    makefile = out / "Makefile"
    if makefile.exists():
        text = makefile.read_text(encoding="utf-8")
        if "\nSOLUTION_BUILD ?=\n" not in text:
            raise DistError("the Makefile has no 'SOLUTION_BUILD ?=' line: the release's solution/ could not be built")
        makefile.write_text(text.replace("\nSOLUTION_BUILD ?=\n", f'\nSOLUTION_BUILD := LAB_CFLAGS="{LAB_CFLAGS}"\n'),
                            encoding="utf-8")
    if book and (out / "book" / "Makefile").exists():
        p = subprocess.run(["make", "-s", "-C", str(out / "book"), f"O={out / BOOK_OUT}", f"VERSION={version}"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        if p.returncode:
            raise DistError("the book did not build from the release:\n" + "\n".join(p.stdout.splitlines()[-20:]))
        for junk in ("latex", "html-pandoc.err"):     # LaTeX's work files quote nothing new, but are no book
            target = out / BOOK_OUT / junk
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    if git and shutil.which("git"):
        env = dict(os.environ, GIT_AUTHOR_NAME="kvmlabs", GIT_AUTHOR_EMAIL="kvmlabs@localhost",
                   GIT_COMMITTER_NAME="kvmlabs", GIT_COMMITTER_EMAIL="kvmlabs@localhost")
        for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", f"kvmlabs {version}"]):
            subprocess.run(["git", "-C", str(out), *cmd], check=True, env=env, stdout=subprocess.DEVNULL)
    log(f"dist: {out}: reference code of {what_released(upto)}; "
        f"{len(skipped)} files withheld ({', '.join(sorted({withheld_group(s) for s in skipped}))})")
    return out


def what_released(upto):
    return "no lab (term start)" if upto <= 1 else f"labs 01-{upto - 1:02d}" if upto > 2 else "lab 01"


def withheld_group(rel):
    return next((w for w in WITHHELD_ALWAYS if rel.as_posix() == w or rel.as_posix().startswith(w + "/")),
                "labs/*/mutants")


def describe(root, upto):
    p = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    base = p.stdout.strip() or "unknown"
    return f"{base}-upto-{upto:02d}" if upto else f"{base}-term-start"


def note_readme(out, upto, book=True):
    """Say at the top of the release's README what it holds."""
    readme = out / "README.md"
    if not readme.exists():
        return
    if upto > 1:
        ref = (f"`solution/` holds the reference code of {what_released(upto)}; the exercises of lab "
               f"{upto:02d} and later are stubs there, as in your skeletons. `make grade LAB=NN` grades your "
               f"`labs/NN-*` files on top of it; `SOLUTION=1` reaches full marks only for the labs before {upto:02d}.")
    else:
        ref = ("`solution/` holds the provided code; every exercise is a stub there, as in your skeletons. "
               "`make grade LAB=NN` grades your `labs/NN-*` files on top of it; from lab 02 on, "
               "`CUMULATIVE=1` takes your earlier labs from `labs/` too.")
    text = readme.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    at = 1 if lines and lines[0].startswith("# ") else 0
    built = " The book is in `book/built/` (`kvmlabs.pdf`, `html/index.html`)." if book else ""
    block = f"\n> **Term release.** {ref}{built}\n"
    readme.write_text("".join(lines[:at]) + block + "".join(lines[at:]), encoding="utf-8")


# ---- the leak check ----

TAG = re.compile(r"<[^>]*>")
WRAPPED = re.compile(r"\s*\n\s*,?\u2192\s*")


def document_text(path):
    """A file's text as a reader sees it: a PDF through pdftotext, HTML without
    its tags (syntax highlighting splits code lines into spans), else as is."""
    if path.suffix == ".pdf":
        p = subprocess.run(["pdftotext", "-layout", str(path), "-"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        if p.returncode:
            raise DistError(f"pdftotext could not read {path}")
        # A code line too long for the page goes on after a break and an arrow.
        return WRAPPED.sub(" ", p.stdout.decode("utf-8", "replace"))
    data = path.read_bytes()
    text = data.decode("utf-8", "replace")
    if path.suffix in (".html", ".htm", ".svg", ".js", ".json"):
        text = html.unescape(TAG.sub("", text))
    return text


def leaks(tree, telling):
    """[(released file, withheld line, where the line is from)]: every telling line
    found anywhere in tree, as a line of its own or inside a longer one."""
    tree = Path(tree)
    # Each withheld line is looked up only in files that have its longest word:
    # a quick filter in front of the substring search.
    word = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
    by_word = {}
    for line in telling:
        words = word.findall(line)
        key = max(words, key=len) if words else None
        by_word.setdefault(key, []).append(line)
    found = []
    # Version control and build output (made by whoever builds in the tree) are no part of what is handed out.
    def handed_out(p):
        parts = p.relative_to(tree).parts
        return ".git" not in parts and parts[0] != "build" and p.is_file() and not p.is_symlink()
    for path in sorted(p for p in tree.rglob("*") if handed_out(p)):
        text = norm_text(document_text(path))
        present = set(word.findall(text))
        for key, lines in by_word.items():
            if key is not None and key not in present:
                continue
            for line in lines:
                if line in text:
                    found.append((str(path.relative_to(tree)), line, telling[line]))
    return found


def norm_text(text):
    """Whitespace collapsed within each line; line breaks kept as ' \\n '."""
    return "\n".join(norm(l) for l in text.splitlines())


# ---- Gradescope ----

def grading_packages(root):
    """The Debian packages grading needs: grader/packages.txt without the book's."""
    lines = (Path(root) / "grader" / "packages.txt").read_text().splitlines()
    pkgs = [l.strip() for l in lines if l.strip() and not l.lstrip().startswith("#")]
    return [p for p in pkgs if not p.startswith(NOT_FOR_GRADING)]


def gradescope_zip(root, lab, out):
    """Write the Gradescope autograder zip for lab `lab` to out. It holds the
    whole kit, the reference solution included: Gradescope shows an autograder
    to the course's staff only."""
    root, out = Path(root).resolve(), Path(out)
    labdir = labs.lab_dir(root, lab)
    if labdir is None or not (labdir / "rubric").exists():
        raise DistError(f"lab {lab:02d} has no rubric (labs/{lab:02d}-*/rubric)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pkgs = " ".join(grading_packages(root))
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("setup.sh", "run_autograder"):
            text = (AUTOGRADER_FILES / name).read_text().replace("@LAB@", f"{lab:02d}").replace("@PACKAGES@", pkgs)
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
        readme = (AUTOGRADER_FILES / "README.md").read_text().replace("@LAB@", f"{lab:02d}")
        readme = readme.replace("@WHERE@", where_line(lab))
        z.writestr("README.md", readme)
        with committed(root) as src:
            for rel in tracked_files(src):
                info = zipfile.ZipInfo.from_file(src / rel, f"kit/{rel.as_posix()}")
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, (src / rel).read_bytes())
    tmp.replace(out)        # never a half-written zip under the final name
    return out


def where_line(lab):
    """Where lab `lab` can be graded, in one sentence (the zip's README and the doctor)."""
    where = labs.PLATFORM[lab]
    if where == "linux-kvm":
        return (f"lab {lab:02d} runs its guests on Linux KVM: it needs /dev/kvm, which Gradescope's "
                f"containers do not have; grade it on a machine or CI runner with /dev/kvm "
                f"(a self-hosted runner, grader/classroom/grade.yml)")
    if where == "minikvm":
        return (f"lab {lab:02d} runs its guests on the student's minikvm under Bochs (software VMX): it can be "
                f"graded anywhere, Gradescope included; with /dev/kvm its passing tests are also compared "
                f"with Linux KVM")
    return (f"lab {lab:02d} runs its guests on the student's minikvm under Bochs and again on Linux KVM, and "
            f"compares the two (the disk file is checked after the Linux KVM run): that part needs /dev/kvm "
            f"(a self-hosted runner); on Gradescope only the minikvm part can run")
