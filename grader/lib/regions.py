"""Region markers in solution/ sources.

    // @lab NN name: task       an exercise of lab NN: the solution's body, then
    ...solution...              its // @stub lines (what the skeleton has instead)
    // @stub CODE
    // @end
    // @region name             code the book may show
    // @end

One parser for the skeleton generator, the stage builder, the book's checks
and the grader's own tests, so every tool agrees on what a region is. Errors
name the file and line. A file may hold regions of several labs.

A student's file (labs/NN-*/...) is parsed with submission=True: there a lab
region is whatever lies between its markers (the skeleton has the stub's code
there, without '// @stub' lines).
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

MARK = re.compile(r"^(?P<indent>\s*)//\s*@(?P<kind>lab|region|stub|end)\b(?P<rest>.*)$")
NEAR_MARK = re.compile(r"^\s*//\s*@(lab|region|stub|end)")     # what the book's filter also calls a marker
LAB_HEAD = re.compile(r"^\s+(?P<lab>\d\d)\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<task>\S.*)$")
REGION_HEAD = re.compile(r"^\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$")
SOURCE_SUFFIXES = (".c", ".h", ".S", ".s", ".mk", ".ld")


class RegionError(Exception):
    pass


@dataclass
class Region:
    kind: str                   # "lab" (an exercise) or "region" (for the book)
    name: str
    path: str                   # as given to parse(), for messages
    start: int                  # line of the opening marker (1-based)
    indent: str
    lab: int | None = None
    task: str | None = None
    body: list[str] = field(default_factory=list)    # lines between the markers, '// @stub' lines excepted
    stub: list[str] = field(default_factory=list)    # the code of its '// @stub' lines
    end: int | None = None      # line of '// @end'

    def stub_lines(self):
        """The stub as code lines, at the region's indentation (what a skeleton holds)."""
        return [f"{self.indent}{code}\n" for code in self.stub]


@dataclass
class Source:
    """One parsed file: its lines and its regions in order."""
    path: str
    lines: list[str]
    regions: list[Region]

    def labs(self):
        return sorted({r.lab for r in self.regions if r.kind == "lab"})

    def lab_regions(self, lab=None):
        return [r for r in self.regions if r.kind == "lab" and (lab is None or r.lab == lab)]

    def region(self, name):
        return next((r for r in self.regions if r.name == name), None)


def parse(path, text=None, submission=False):
    """Parse one file (text, or read from path); raise RegionError on malformed markers."""
    if text is None:
        text = Path(path).read_text(encoding="utf-8")
    path = str(path)
    lines = text.splitlines(keepends=True)
    regions, cur = [], None
    for no, line in enumerate(lines, 1):
        m = MARK.match(line.rstrip("\r\n"))
        if not m and NEAR_MARK.match(line):
            raise RegionError(f"{path}:{no}: malformed marker: {line.strip()}")
        if not m:
            if cur is not None:
                if cur.stub and not submission:
                    raise RegionError(f"{path}:{no}: code after '// @stub' in {cur.name}: stubs come last")
                cur.body.append(line)
            continue
        kind, rest, indent = m["kind"], m["rest"], m["indent"]
        where = f"{path}:{no}"
        if kind in ("lab", "region"):
            if cur is not None:
                raise RegionError(f"{where}: '@{kind}' inside region {cur.name} (opened at line {cur.start})")
            if kind == "lab":
                h = LAB_HEAD.match(rest)
                if not h:
                    raise RegionError(f"{where}: expected '// @lab NN name: task'")
                cur = Region("lab", h["name"], path, no, indent, int(h["lab"]), h["task"].strip())
            else:
                h = REGION_HEAD.match(rest)
                if not h:
                    raise RegionError(f"{where}: expected '// @region name'")
                cur = Region("region", h["name"], path, no, indent)
        elif kind == "stub":
            if cur is None or cur.kind != "lab":
                raise RegionError(f"{where}: '@stub' outside a lab region")
            cur.stub.append(rest.strip())
        else:  # end
            if rest.strip():
                raise RegionError(f"{where}: expected '// @end' alone on its line")
            if cur is None:
                raise RegionError(f"{where}: '@end' without an open region")
            if cur.kind == "lab" and not cur.stub and not submission:
                raise RegionError(f"{where}: lab region {cur.name} has no '// @stub' line")
            cur.end = no
            regions.append(cur)
            cur = None
    if cur is not None:
        raise RegionError(f"{path}:{cur.start}: region {cur.name} is never closed with '// @end'")
    names = {}
    for r in regions:
        if r.name in names:
            raise RegionError(f"{path}:{r.start}: region name {r.name} already used at line {names[r.name]}")
        names[r.name] = r.start
    return Source(path, lines, regions)


def render(src, bodies, keep_stub_marks=True):
    """src's text with the body of each lab region named in bodies replaced by
    bodies[name] (a list of lines). Markers, the rest of the file and the
    regions not named stay as they are; without keep_stub_marks the '// @stub'
    lines go (a skeleton shows the stub as code instead)."""
    by_start = {r.start: r for r in src.lab_regions()}
    out, no = [], 1
    while no <= len(src.lines):
        r = by_start.get(no)
        if r is None:
            out.append(src.lines[no - 1])
            no += 1
            continue
        inner = src.lines[r.start:r.end - 1]
        marks = [l for l in inner if is_stub_mark(l)]
        out.append(src.lines[r.start - 1])
        out.extend(bodies[r.name] if r.name in bodies else [l for l in inner if not is_stub_mark(l)])
        if keep_stub_marks:
            out.extend(marks)
        out.append(src.lines[r.end - 1])
        no = r.end + 1
    return "".join(out)


def is_stub_mark(line):
    m = MARK.match(line.rstrip("\r\n"))
    return bool(m) and m["kind"] == "stub"


def skeleton_text(src, lab):
    """The file as labs/NN-*/ hands it out for lab `lab`: the regions of that lab
    and of later labs hold their stubs, the regions of earlier labs the
    solution's bodies (the reference of past labs)."""
    src = src if isinstance(src, Source) else parse(src)
    return render(src, {r.name: r.stub_lines() for r in src.lab_regions() if r.lab >= lab}, keep_stub_marks=False)


def frame(src, lab):
    """[(line number, text)] of src outside the bodies of lab `lab`'s regions,
    without '// @stub' lines: what a stage never takes from a student's file."""
    inside = set()
    for r in src.lab_regions(lab):
        inside.update(range(r.start + 1, r.end))
    return [(no, line.rstrip()) for no, line in enumerate(src.lines, 1)
            if no not in inside and not is_stub_mark(line)]


def source_files(root):
    """Every source file under root (a Path), in a stable order."""
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.name.endswith(SOURCE_SUFFIXES))


def scan(solution_root):
    """{relative path: Source} of every file under solution_root with lab regions."""
    root = Path(solution_root)
    out = {}
    for path in source_files(root):
        src = parse(path)
        if src.lab_regions():
            out[path.relative_to(root)] = src
    return out


def lab_files(solution):
    """{lab number: [relative paths of the files with regions of that lab]}; a file
    with regions of several labs is in each of them. solution: the solution/
    directory, or what scan() made of it."""
    out = {}
    for rel, src in (solution if isinstance(solution, dict) else scan(solution)).items():
        for lab in src.labs():
            out.setdefault(lab, []).append(rel)
    return dict(sorted(out.items()))

