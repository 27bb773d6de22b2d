"""Region markers in solution/ sources.

    // @lab NN name: task       a lab exercise (a solution); // @stub lines replace it
    // @region name             code the book may show
    // @end

One parser for the skeleton generator, the grader and the checks, so every
tool agrees on what a region is. Errors name the file and line.
"""
import os
import re

MARK = re.compile(r"^(?P<indent>\s*)//\s*@(?P<kind>lab|region|stub|end)\b(?P<rest>.*)$")
LAB_HEAD = re.compile(r"^\s+(?P<lab>\d\d)\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<task>\S.*)$")
REGION_HEAD = re.compile(r"^\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$")
SOURCE_SUFFIXES = (".c", ".h", ".S", ".s", ".mk", ".ld")


class RegionError(Exception):
    pass


class Region:
    def __init__(self, kind, name, path, start, indent, lab=None, task=None):
        self.kind, self.name, self.path, self.start = kind, name, path, start
        self.indent, self.lab, self.task = indent, lab, task
        self.body = []    # solution lines (without markers)
        self.stub = []    # stub code lines (lab regions)
        self.end = None

    def __repr__(self):
        return f"<{self.kind} {self.name} {self.path}:{self.start}>"


def parse(path, text=None):
    """Return (lines, regions) of one file; raise RegionError on malformed markers."""
    if text is None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    lines = text.splitlines(keepends=True)
    regions, cur = [], None
    for no, line in enumerate(lines, 1):
        m = MARK.match(line.rstrip("\n"))
        if not m:
            if cur is not None:
                if cur.stub:
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
            if cur is None:
                raise RegionError(f"{where}: '@end' without an open region")
            if cur.kind == "lab" and not cur.stub:
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
    labs = {r.lab for r in regions if r.kind == "lab"}
    if len(labs) > 1:
        raise RegionError(f"{path}: regions of labs {sorted(labs)} in one file; a file belongs to one lab")
    return lines, regions


def source_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(SOURCE_SUFFIXES):
                yield os.path.join(dirpath, fn)


def lab_files(solution_root):
    """{lab number: [solution-relative paths of the files that belong to it]}"""
    out = {}
    for path in source_files(solution_root):
        _, regions = parse(path)
        labs = {r.lab for r in regions if r.kind == "lab"}
        for lab in labs:
            out.setdefault(lab, []).append(os.path.relpath(path, solution_root))
    return out


def skeleton_text(path):
    """The file as a student receives it: every lab region's body replaced by its stub."""
    lines, regions = parse(path)
    by_start = {r.start: r for r in regions if r.kind == "lab"}
    out, skip_to = [], 0
    for no, line in enumerate(lines, 1):
        if no <= skip_to:
            continue
        r = by_start.get(no)
        if r is None:
            out.append(line)
            continue
        out.append(line)  # the '// @lab' line tells the student what to write
        out.extend(f"{r.indent}{code}\n" for code in r.stub)
        out.append(lines[r.end - 1])
        skip_to = r.end
    return "".join(out)


def find_region(path, name):
    _, regions = parse(path)
    for r in regions:
        if r.name == name:
            return r
    raise RegionError(f"{path}: no region named {name}")
