"""The exercises of a handout: which section of labs/NN-*/README.md asks for which
region (function).

A handout names its regions in its exercise headings, after the title, in one
parenthesised list of backquoted names and the files they are in:

    ### Exercise 4 — the guest-state area (`vmx_segment_access_rights`, vmx/vmx_decode.c; `vmx_set_segment`, vmx/vmx.c)

gives {"vmx_segment_access_rights": "exercise-4", "vmx_set_segment": "exercise-4"}.
A section is named as rubric lines name it (section=exercise-N).
"""
import re
from dataclasses import dataclass
from pathlib import Path

HEADING = re.compile(r"^###\s+Exercise\s+(\d+)\s*(?:[—–:-]+\s*)?(.*?)\s*$")
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\(\))?`")


@dataclass(frozen=True)
class Exercise:
    number: int
    title: str                   # the heading without its list of names: "the guest-state area"
    names: tuple                 # the regions (functions) it asks for, in heading order
    line: int                    # of the heading in README.md

    @property
    def section(self):
        return f"exercise-{self.number}"


def readme(labdir):
    return Path(labdir) / "README.md"


def parse(text):
    """The exercises of a handout's text, in order."""
    found = []
    for no, line in enumerate(text.splitlines(), 1):
        m = HEADING.match(line)
        if not m:
            continue
        rest = m[2]
        # The names are in the heading's last parenthesised group; a title may
        # itself hold backquoted words, which are not regions.
        group = last_group(rest)
        names = NAME.findall(rest[group:]) if group is not None else []
        title = rest[:group].strip() if names else rest
        found.append(Exercise(int(m[1]), title, tuple(names), no))
    return found


def last_group(text):
    """Where the parenthesised group that ends `text` starts (parentheses inside
    backquotes, as in `f()`, do not count), or None."""
    masked = re.sub(r"`[^`]*`", lambda m: "x" * len(m[0]), text)
    if not masked.endswith(")"):
        return None
    depth = 0
    for i in range(len(masked) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(masked[i], 0)
        if depth == 0:
            return i
    return None


def exercises(labdir):
    """The exercises of labs/NN-*/README.md ([] if there is no handout)."""
    if labdir is None:
        return []
    try:
        return parse(readme(labdir).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []


def sections(labdir):
    """{region or function name: "exercise-N"} for the handout of `labdir`. A name
    two exercises give keeps the first."""
    out = {}
    for ex in exercises(labdir):
        for name in ex.names:
            out.setdefault(name, ex.section)
    return out


def section_of(labdir, name):
    """The section ("exercise-N") of the handout of `labdir` whose heading names
    region (function) `name`, or None."""
    if not name:
        return None
    return sections(labdir).get(name)


def title_of(labdir, section):
    """'Exercise 4 — the guest-state area' for section "exercise-4" (else the section, capitalised)."""
    for ex in exercises(labdir):
        if ex.section == section:
            return f"Exercise {ex.number} — {ex.title}" if ex.title else f"Exercise {ex.number}"
    return section.replace("-", " ").capitalize()
