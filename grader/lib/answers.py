"""Written answers: labs/NN-*/answers.md answers the numbered questions of the
handout's "## Questions" section, one "## Question N" section each.

The check is worth no points; it tells a student (and an instructor's batch)
which questions are still unanswered. A section counts as answered when it
holds text other than the template's placeholder line and HTML comments.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

PLACEHOLDER = "_(your answer here)_"
QUESTIONS = re.compile(r"^##\s+Questions\s*$")
QUESTION = re.compile(r"^(\d+)[.)]\s+\S")
ANSWER = re.compile(r"^##\s+Question\s+(\d+)\b")
HEADING = re.compile(r"^#{1,2}\s")
COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
MAX_BYTES = 1 << 20


@dataclass
class Answers:
    path: str                    # answers.md as the student knows it (labs/NN-name/answers.md)
    questions: list              # the handout's question numbers
    answered: list = field(default_factory=list)
    empty: list = field(default_factory=list)      # a section with nothing but the placeholder
    missing: list = field(default_factory=list)    # no "## Question N" section
    problem: str | None = None   # the file is missing or unreadable

    @property
    def complete(self):
        return self.problem is None and not self.empty and not self.missing

    def summary(self):
        """'5/6 answered: question 3 is empty' (or what is wrong with the file)."""
        total = len(self.questions)
        if self.problem:
            return f"0/{total} answered: {self.problem}"
        s = f"{len(self.answered)}/{total} answered"
        parts = []
        if self.empty:
            parts.append(f"{plural('question', self.empty)} {listing(self.empty)} "
                         f"{'is' if len(self.empty) == 1 else 'are'} empty")
        if self.missing:
            parts.append(f"{plural('question', self.missing)} {listing(self.missing)} "
                         f"{'has' if len(self.missing) == 1 else 'have'} no '## Question N' section in {self.path}")
        return s + (": " + "; ".join(parts) if parts else "")

    def as_dict(self):
        return {"path": self.path, "questions": len(self.questions), "answered": self.answered,
                "empty": self.empty, "missing": self.missing, "problem": self.problem, "summary": self.summary()}


def plural(word, items):
    return word if len(items) == 1 else word + "s"


def listing(numbers):
    return ", ".join(map(str, numbers[:-1])) + " and " + str(numbers[-1]) if len(numbers) > 1 else str(numbers[0])


def questions(handout_text):
    """The numbers of the handout's questions: "1. ..." lines (at the margin) of
    its "## Questions" section."""
    found, inside = [], False
    for line in handout_text.splitlines():
        if QUESTIONS.match(line):
            inside = True
            continue
        if inside and HEADING.match(line):
            break
        m = QUESTION.match(line) if inside else None
        if m and int(m[1]) not in found:
            found.append(int(m[1]))
    return found


def sections(answers_text):
    """{question number: the text of its "## Question N" section}."""
    out, current = {}, None
    for line in answers_text.splitlines():
        m = ANSWER.match(line)
        if m:
            current = int(m[1])
            out.setdefault(current, [])
        elif HEADING.match(line):
            current = None
        elif current is not None:
            out[current].append(line)
    return {n: "\n".join(lines) for n, lines in out.items()}


def has_answer(text):
    text = COMMENT.sub("", text).replace(PLACEHOLDER, "")
    return bool(text.strip())


def judge(handout_text, answers_text, path):
    """An Answers for the handout's questions against the text of answers.md."""
    a = Answers(path, questions(handout_text))
    got = sections(answers_text)
    for n in a.questions:
        if n not in got:
            a.missing.append(n)
        elif has_answer(got[n]):
            a.answered.append(n)
        else:
            a.empty.append(n)
    return a


def check(handout_dir, answers_dir, shown=None):
    """Check answers_dir/answers.md against the questions of handout_dir/README.md
    (the kit's handout: a submission's copy may differ). None when the handout
    asks no questions."""
    try:
        handout = Path(handout_dir, "README.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    path = Path(answers_dir, "answers.md") if answers_dir else None
    name = shown or (f"labs/{Path(handout_dir).name}/answers.md")
    nums = questions(handout)
    if not nums:
        return None
    problem = None
    if path is None or not path.exists() and not path.is_symlink():
        problem = f"{name} is missing (answer each question under '## Question N')"
    elif path.is_symlink() or not path.is_file():
        problem = f"{name} is not a regular file"
    elif path.stat().st_size > MAX_BYTES:
        problem = f"{name} is larger than {MAX_BYTES >> 20} MiB"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problem = f"{name} is not UTF-8 text"
        except OSError as e:
            problem = f"{name}: {e.strerror}"
    if problem:
        return Answers(name, nums, problem=problem)
    return judge(handout, text, name)
