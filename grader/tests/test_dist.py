"""The term release (make dist), the Gradescope autograder (make gradescope) and
the GitHub Classroom workflow: nothing withheld gets out, what goes out works.

    python3 -m unittest grader.tests.test_dist

KVMLABS_DIST_BOOK=0 skips building the book into the release (the PDF and HTML
checks then skip too); make test builds it.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "grader"))
from lib import dist, hostcaps, labs, regions  # noqa: E402

UPTO = 3            # labs 01-02 released with their reference, lab 03 and later withheld
HAVE_BOOK_TOOLS = all(shutil.which(t) for t in ("pandoc", "pdflatex", "dot", "pdftotext"))
BUILD_BOOK = HAVE_BOOK_TOOLS and os.environ.get("KVMLABS_DIST_BOOK", "1") != "0"


def scratch(prefix):
    """A temporary directory the sandbox's unprivileged user can enter: grading
    builds and runs a stage in it as that user."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def run(cmd, cwd, timeout=300, env=None):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", timeout=timeout, env=env)


class Release(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = scratch("kvmlabs-dist-")
        cls.out = cls.tmp / "release"
        p = run([sys.executable, ROOT / "grader" / "dist", "release", "--upto", UPTO, "--out", cls.out]
                + ([] if BUILD_BOOK else ["--no-book"]), ROOT)
        cls.made = p
        cls.telling = dist.telling_lines(ROOT, UPTO)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_made_and_self_checked(self):
        self.assertEqual(self.made.returncode, 0, self.made.stdout)
        self.assertIn("no withheld line in the release", self.made.stdout)

    def test_no_withheld_line_anywhere(self):
        # Lab 03's and 04's answers are hundreds of lines: an empty list here would check nothing.
        self.assertGreater(len(self.telling), 100)
        self.assertEqual(dist.leaks(self.out, self.telling), [])

    def test_a_planted_line_is_found(self):
        """The check finds a withheld line wherever it is put, inside a longer line too."""
        line = next(l for l, origin in self.telling.items() if "lab 04" in origin)
        target = self.out / "labs" / "01-real-mode" / "README.md"
        saved = target.read_text()
        try:
            target.write_text(saved + f"\nas in `{line}`, really\n")
            found = dist.leaks(self.out, self.telling)
        finally:
            target.write_text(saved)
        self.assertEqual([(f, l) for f, l, _ in found], [("labs/01-real-mode/README.md", line)])

    def test_solution_has_reference_of_earlier_labs_only(self):
        mine, theirs = regions.scan(ROOT / "solution"), regions.scan(self.out / "solution")
        self.assertEqual(set(mine), set(theirs))
        labs_seen = set()
        for rel, src in mine.items():
            for r in src.lab_regions():
                got = theirs[rel].region(r.name)
                labs_seen.add(r.lab)
                want = r.body if r.lab < UPTO else r.stub_lines()
                self.assertEqual(got.body, want, f"solution/{rel}: {r.name} (lab {r.lab:02d})")
                self.assertEqual(got.stub, r.stub, f"solution/{rel}: {r.name} keeps its '// @stub' lines")
        self.assertTrue({1, 2} <= labs_seen and {3, 4} <= labs_seen)

    def test_handouts_and_skeletons(self):
        for lab in labs.existing(ROOT):
            mine, theirs = labs.lab_dir(ROOT, lab), labs.lab_dir(self.out, lab)
            self.assertIsNotNone(theirs, f"lab {lab:02d}'s handout is in the release")
            for name in ("README.md", "rubric", "answers.md"):
                self.assertEqual((theirs / name).read_bytes(), (mine / name).read_bytes(), f"{theirs}/{name}")
            if lab <= UPTO:
                for rel in regions.lab_files(ROOT / "solution").get(lab, []):
                    self.assertEqual((theirs / rel).read_text(), (mine / rel).read_text(),
                                     f"lab {lab:02d}'s skeleton {rel} is the committed one")

    def test_withheld_files(self):
        tracked = {p.as_posix() for p in dist.tracked_files(ROOT)}
        self.assertIn("labs/04-vmx/mutants", tracked)
        # What the release was made with (other tests build and grade in it since).
        shipped = run(["git", "ls-files"], self.out).stdout.splitlines()
        self.assertGreater(len(shipped), 100)
        for gone in ("labs/01-real-mode/mutants", "labs/04-vmx/mutants", "grader/tests/", "grader/mutants",
                     "grader/lib/mutants.py", ".ci/", "build/"):
            self.assertEqual([f for f in shipped if f == gone or f.startswith(gone) and gone.endswith("/")], [], gone)
        for kept in ("grader/grade", "grader/selftest", "grader/doctor", "grader/lib/runner.py",
                     "grader/guests/Makefile", "book/Makefile", "labs/04-vmx/tests/tests.mk"):
            self.assertTrue((self.out / kept).is_file(), kept)

    def test_fresh_history(self):
        p = run(["git", "log", "--format=%s"], self.out)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(len(p.stdout.splitlines()), 1, "one commit, none of the kit's history")
        p = run(["git", "status", "--porcelain"], self.out)
        self.assertEqual(p.stdout, "", "the release is committed whole")

    def test_readme_says_what_it_is(self):
        text = (self.out / "README.md").read_text()
        self.assertIn("Term release", text)
        self.assertIn("labs 01-02", text)

    def test_vmm_builds(self):
        p = run(["make", "-s", "-C", self.out, f"BUILD={self.tmp / 'build-vmm'}", "vmm"], self.out)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        self.assertTrue((self.tmp / "build-vmm" / "solution" / "vmm").exists())

    @unittest.skipUnless(hostcaps.kvm_usable()[0], "no usable /dev/kvm")
    def test_released_lab_grades_in_the_release(self):
        # Lab 01's reference is in this release: the release grades it at full marks.
        p = run([sys.executable, self.out / "grader" / "grade", "01", "--release"], self.out, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        self.assertRegex(p.stdout, r"score: (\d+)/\1 ")

    @unittest.skipUnless(hostcaps.kvm_usable()[0], "no usable /dev/kvm")
    def test_current_lab_solved_grades_full_marks(self):
        """Lab UPTO's student, with their lab done, reaches full marks on the
        reference of the labs before it that the release carries."""
        labdir = labs.lab_dir(self.out, UPTO)
        try:
            for rel in regions.lab_files(ROOT / "solution")[UPTO]:
                shutil.copy(ROOT / "solution" / rel, labdir / rel)
            p = run([sys.executable, self.out / "grader" / "grade", f"{UPTO:02d}"], self.out, timeout=300)
        finally:
            run(["git", "checkout", "-q", "--", "labs"], self.out)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        self.assertRegex(p.stdout, r"score: (\d+)/\1 ")

    @unittest.skipUnless(BUILD_BOOK, "the book is not built (KVMLABS_DIST_BOOK=0 or its tools missing)")
    def test_book_built_and_read(self):
        pdf = self.out / dist.BOOK_OUT / "kvmlabs.pdf"
        site = sorted((self.out / dist.BOOK_OUT / "html").glob("*.html"))
        self.assertTrue(pdf.is_file() and site)
        # The same reading finds the code the book does show (its @region
        # listings): a reader that saw nothing would pass the leak check.
        shown = set()
        for path in regions.source_files(ROOT / "solution"):
            for r in regions.parse(path).regions:
                if r.kind == "region":
                    shown.update(dist.norm(l) for l in r.body if len(dist.norm(l)) >= 20)
        pdf_text = dist.norm_text(dist.document_text(pdf))
        html_text = "\n".join(dist.norm_text(dist.document_text(p)) for p in site)
        in_html = {l for l in shown if l in html_text}
        self.assertGreater(len(in_html), 100)
        self.assertEqual({l for l in in_html if l not in pdf_text}, set(), "lines the PDF reading misses")


class TermStart(unittest.TestCase):
    """UPTO=0: no reference code at all."""

    def test_every_exercise_is_a_stub(self):
        with tempfile.TemporaryDirectory(prefix="kvmlabs-dist-") as tmp:
            out = dist.release(ROOT, Path(tmp) / "r", 0, book=False, git=False, log=lambda *_: None)
            for rel, src in regions.scan(out / "solution").items():
                for r in src.lab_regions():
                    self.assertEqual(r.body, r.stub_lines(), f"solution/{rel}: {r.name}")
            telling = dist.telling_lines(ROOT, 0)
            self.assertGreater(len(telling), len(dist.telling_lines(ROOT, UPTO)))
            self.assertEqual(dist.leaks(out, telling), [])
            text = (out / ".github" / "workflows" / "grade.yml").read_text()
            self.assertIn("vars.KVMLABS_LAB || '01'", text)

    def test_refuses_to_write_into_the_kit(self):
        with self.assertRaises(dist.DistError):
            dist.release(ROOT, ROOT / "labs", 0, book=False, git=False)


def extract(zip_path, into):
    """Unpack as Gradescope's unzip does: file modes kept (run_autograder, the grader's scripts)."""
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(into)
        for info in z.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(Path(into) / info.filename, mode)


def minikvm_ready():
    from lib import grading
    return grading.minikvm_platform_ready(ROOT)[0]


class Gradescope(unittest.TestCase):
    LAB = 4         # a Bochs lab: what Gradescope can grade

    @classmethod
    def setUpClass(cls):
        cls.tmp = scratch("kvmlabs-gs-")
        cls.zip = dist.gradescope_zip(ROOT, cls.LAB, cls.tmp / f"gradescope-lab{cls.LAB:02d}.zip")
        cls.source = cls.tmp / "source"
        extract(cls.zip, cls.source)
        cls.labdir = labs.lab_dir(ROOT, cls.LAB)
        cls.files = regions.lab_files(ROOT / "solution")[cls.LAB]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def autograde(self, name, fill):
        """A fake /autograder: source/ shared (as Gradescope's image), a submission
        made by fill(submission dir); returns (results.json, output)."""
        root = self.tmp / name
        (root / "submission").mkdir(parents=True)
        os.symlink(self.source, root / "source")
        fill(root / "submission")
        env = dict(os.environ, KVMLABS_AUTOGRADER_ROOT=str(root))
        p = run([root / "source" / "run_autograder"], root, timeout=600, env=env)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        return json.loads((root / "results" / "results.json").read_text()), p.stdout

    def test_zip_layout(self):
        with zipfile.ZipFile(self.zip) as z:
            names = set(z.namelist())
            modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
        self.assertTrue({"setup.sh", "run_autograder", "README.md", "kit/grader/grade",
                         f"kit/{self.labdir.relative_to(ROOT).as_posix()}/rubric"} <= names)
        self.assertTrue(modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111)
        self.assertFalse(any(n.startswith(("kit/build/", "kit/.git/")) for n in names))
        setup = (self.source / "setup.sh").read_text()
        for pkg in dist.grading_packages(ROOT):
            self.assertIn(f" {pkg}", setup)
        self.assertIn("bochs", setup)
        self.assertNotIn("texlive", setup)
        readme = (self.source / "README.md").read_text()
        self.assertIn("Gradescope included", readme)
        self.assertIn("/dev/kvm", readme)

    @unittest.skipUnless(minikvm_ready(), "no platform for minikvm (Bochs) here")
    def test_solved_submission_full_marks(self):
        def fill(sub):      # a checkout of the kit, the lab's files solved
            for rel in self.files:
                dst = sub / "labs" / self.labdir.name / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / "solution" / rel, dst)
        doc, out = self.autograde("solved", fill)
        self.assertIn("extra_data", doc, f"the grader wrote no results: {doc.get('output')}")
        most = doc["extra_data"]["max_score"]
        self.assertGreater(most, 0)
        self.assertEqual(doc["score"], most, out[-3000:])
        self.assertIn(f"{len(self.files)} of {len(self.files)} lab files taken", doc["output"])
        self.assertTrue(all(t["status"] == "passed" for t in doc["tests"] if t["max_score"]))

    @unittest.skipUnless(minikvm_ready(), "no platform for minikvm (Bochs) here")
    def test_skeleton_submission_and_a_symlink(self):
        def fill(sub):      # the lab's files alone, side by side; one of them a symbolic link
            for rel in self.files[1:]:
                shutil.copy(self.labdir / rel, sub / rel.name)
            os.symlink("/etc/passwd", sub / self.files[0].name)
        doc, out = self.autograde("skeleton", fill)
        self.assertIn("tests", doc, f"the grader wrote no results: {doc.get('output')}")
        self.assertEqual(doc["score"], 0, out[-3000:])
        self.assertIn(f"{len(self.files) - 1} of {len(self.files)} lab files taken", doc["output"])
        self.assertIn(f"{self.files[0].name} is a symbolic link", doc["output"])
        self.assertTrue(any(t["status"] == "failed" for t in doc["tests"]))
        self.assertNotIn("root:x:0:0", json.dumps(doc))


class Classroom(unittest.TestCase):
    def setUp(self):
        self.text = (ROOT / "grader" / "classroom" / "grade.yml").read_text()

    def test_workflow_parses(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("no PyYAML (python3-yaml)")
        doc = yaml.safe_load(self.text)
        on = doc.get("on", doc.get(True))      # YAML 1.1 reads a bare 'on' key as true
        self.assertIn("push", on)
        self.assertEqual(set(doc["jobs"]), {"plan", "grade"})
        steps = doc["jobs"]["grade"]["steps"]
        self.assertTrue(any("make grade" in s.get("run", "") for s in steps))

    def test_commands_exist_in_the_release(self):
        """Every kit command the workflow runs is a file of the release, and make has its target."""
        with tempfile.TemporaryDirectory(prefix="kvmlabs-dist-") as tmp:
            out = dist.release(ROOT, Path(tmp) / "r", UPTO, book=False, git=False, log=lambda *_: None)
            workflow = (out / dist.WORKFLOW).read_text()
            scripts = set(re.findall(r"(grader/[\w./-]+)", workflow))
            self.assertIn("grader/classroom/report.py", scripts)
            for s in scripts:
                self.assertTrue((out / s).is_file(), s)
            for target in set(re.findall(r"\bmake (\w+)", workflow)):
                p = run(["make", "-n", "-C", out, target, "LAB=01"], out)
                self.assertEqual(p.returncode, 0, f"make {target}: {p.stdout}")
            p = run([sys.executable, out / "grader" / "dist", "packages"], out)
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertIn("bochs", p.stdout.split())

    def test_runner_by_lab(self):
        report = ROOT / "grader" / "classroom" / "report.py"
        self.assertEqual(json.loads(run([sys.executable, report, "runner", "01"], ROOT).stdout), ["self-hosted", "kvm"])
        self.assertEqual(json.loads(run([sys.executable, report, "runner", "04"], ROOT).stdout), "ubuntu-latest")

    def test_score_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            results = {"score": 15, "output": "score: 15/20", "extra_data": {"lab": 4, "max_score": 20},
                       "tests": [{"name": "hello", "score": 10, "max_score": 10, "status": "passed", "output": "PASS"},
                                 {"name": "io", "score": 5, "max_score": 10, "status": "failed", "output": "FAIL: x"},
                                 {"name": "answers", "score": 0, "max_score": 0, "status": "failed", "output": ""}]}
            (tmp / "r.json").write_text(json.dumps(results))
            report = ROOT / "grader" / "classroom" / "report.py"
            p = run([sys.executable, report, "summary", tmp / "r.json", "--summary", tmp / "s.md",
                     "--output", tmp / "o.txt"], tmp)
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertIn("lab 04: 15/20", (tmp / "s.md").read_text())
            blob = (tmp / "o.txt").read_text().strip().removeprefix("result=")
            got = json.loads(base64.b64decode(blob))
            self.assertEqual((got["version"], got["status"], got["max_score"]), (1, "fail", 20))
            self.assertEqual([(t["name"], t["status"], t["score"]) for t in got["tests"]],
                             [("hello", "pass", 10), ("io", "fail", 5)])
            p = run([sys.executable, report, "summary", tmp / "missing.json", "--output", tmp / "o2.txt"], tmp)
            self.assertEqual(p.returncode, 0)
            got = json.loads(base64.b64decode((tmp / "o2.txt").read_text().strip().removeprefix("result=")))
            self.assertEqual(got["status"], "error")


if __name__ == "__main__":
    unittest.main()
