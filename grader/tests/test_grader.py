"""The grader's own logic: region markers, skeletons, stages by region, rubrics and verdicts."""
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import grading, regions, report, rubric, runner, status  # noqa: E402
from lib.stage import Stage, StageError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

SOURCE = """int f(int x)
{
	// @lab 01 f: Double x.
	int y = x * 2;
	return y;
	// @stub lab_todo(1, "f");
	// @end
}
// @region table
static int t[] = { 1 };
// @end
"""


class RegionTest(unittest.TestCase):
    def parse(self, text):
        return regions.parse("x.c", text)

    def test_lab_and_book_regions(self):
        regs = self.parse(SOURCE).regions
        self.assertEqual([(r.kind, r.name) for r in regs], [("lab", "f"), ("region", "table")])
        lab = regs[0]
        self.assertEqual((lab.lab, lab.task, lab.stub), (1, "Double x.", ['lab_todo(1, "f");']))
        self.assertEqual("".join(lab.body), "\tint y = x * 2;\n\treturn y;\n")

    def test_skeleton_replaces_only_the_lab_body(self):
        text = regions.skeleton_text(self.parse(SOURCE), 1)
        self.assertNotIn("x * 2", text)
        self.assertIn('\tlab_todo(1, "f");\n', text)
        self.assertNotIn("@stub", text)
        self.assertIn("// @lab 01 f: Double x.", text)
        self.assertIn("static int t[] = { 1 };", text)

    def test_malformed_markers_name_file_and_line(self):
        cases = {
            "// @lab 01 f: t\nx;\n": r"x.c:1: region f is never closed",
            "// @end\n": r"x.c:1: '@end' without an open region",
            "// @lab 01 f: t\nx;\n// @end\n": r"x.c:3: lab region f has no '// @stub' line",
            "// @region a\n// @region b\n// @end\n": r"x.c:2: '@region' inside region a",
            "// @lab 1 f: t\n": r"x.c:1: expected '// @lab NN name: task'",
            "// @lab 01 f: t\n// @stub s;\nx;\n// @end\n": r"x.c:3: code after '// @stub'",
            "// @region a\n// @end\n// @region a\n// @end\n": r"region name a already used",
            "// @region a\n// @end of a\n": r"x.c:2: expected '// @end' alone",
            "// @lab01 f: t\n": r"x.c:1: malformed marker: // @lab01 f: t",
        }
        for text, msg in cases.items():
            with self.subTest(text=text):
                with self.assertRaisesRegex(regions.RegionError, msg):
                    self.parse(text)

    def test_a_file_may_hold_regions_of_several_labs(self):
        src = self.parse("// @lab 01 f: t\n// @stub s;\n// @end\n// @lab 04 g: t\n// @stub s;\n// @end\n")
        self.assertEqual(src.labs(), [1, 4])

    def test_submission_regions_need_no_stub_lines(self):
        src = regions.parse("x.c", "// @lab 01 f: t\n\tmine();\n// @end\n", submission=True)
        self.assertEqual(src.region("f").body, ["\tmine();\n"])

    def test_solution_tree_parses(self):
        owned = regions.lab_files(ROOT / "solution")
        self.assertIn(Path("vmm/vm.c"), owned[1])
        self.assertIn(Path("vmm/modes.c"), owned[2])


# A synthetic kit: one solution file with regions of labs 01 and 02 (and a
# helpers region of lab 01 whose stub is only a comment), labs 01-03.
KIT_FILE = """#include "x.h"

// @lab 01 f_helpers: Your own types and static helpers for f.
static int twice(int x) { return 2 * x; }
// @stub /* your own types and static helpers */
// @end

int f(int x)
{
	// @lab 01 f: Double x.
	return twice(x);
	// @stub lab_todo(1, "f");
	// @end
}

int g(void)
{
	// @lab 02 g: Return 7.
	return 7;
	// @stub lab_todo(2, "g");
	// @end
}
// @region table
static int t[] = { 1 };
// @end
"""
REL = Path("vmm/a.c")


class StageTest(unittest.TestCase):
    """Stages by region on a synthetic kit in a temporary directory."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        (self.root / "solution" / "vmm").mkdir(parents=True)
        (self.root / "solution" / REL).write_text(KIT_FILE)
        (self.root / "solution" / "vmm" / "b.c").write_text("int b;\n")
        for name in ("01-one", "02-two", "03-three"):
            (self.root / "labs" / name).mkdir(parents=True)
        self.src = regions.parse(self.root / "solution" / REL)
        for lab in (1, 2):
            self.student(lab).parent.mkdir(parents=True)
            self.student(lab).write_text(regions.skeleton_text(self.src, lab))

    def tearDown(self):
        self.tmp.cleanup()

    def student(self, lab):
        return self.root / "labs" / {1: "01-one", 2: "02-two"}[lab] / REL

    def edit(self, lab, old, new):
        path = self.student(lab)
        text = path.read_text()
        self.assertIn(old, text)
        path.write_text(text.replace(old, new, 1))

    def line(self, lab, text):
        """The number of the line of the student's file that starts with text."""
        lines = self.student(lab).read_text().splitlines()
        return next(no for no, l in enumerate(lines, 1) if l.lstrip().startswith(text))

    def stage(self, lab, variant="student"):
        s = Stage(self.root, lab, variant, out=self.root / "build" / f"{variant}-{lab}")
        s.prepare()
        return s, (s.tree / REL).read_text()

    def error(self, lab, variant="student"):
        with self.assertRaises(StageError) as e:
            self.stage(lab, variant)
        return str(e.exception)

    def test_skeletons_of_a_file_with_two_labs(self):
        one = self.student(1).read_text()
        self.assertIn('\tlab_todo(1, "f");\n', one)          # its own lab: stubs
        self.assertIn('\tlab_todo(2, "g");\n', one)          # a later lab: stubs
        self.assertIn("/* your own types and static helpers */\n", one)
        self.assertNotIn("twice(int x)", one)
        two = self.student(2).read_text()
        self.assertIn("\treturn twice(x);\n", two)           # an earlier lab: the solution's body
        self.assertIn("static int twice(int x)", two)
        self.assertIn('\tlab_todo(2, "g");\n', two)
        for text in (one, two):
            self.assertNotIn("@stub", text)
            self.assertIn("// @lab 01 f: Double x.\n", text)
            self.assertIn("static int t[] = { 1 };", text)

    def test_the_body_is_laid_in_by_name(self):
        self.edit(1, "/* your own types and static helpers */\n", "static int thrice(int x) { return 3 * x; }\n")
        self.edit(1, '\tlab_todo(1, "f");\n', "\treturn thrice(x) - x;\n")
        s, text = self.stage(1)
        self.assertIn("\treturn thrice(x) - x;\n", text)
        self.assertIn("static int thrice(int x)", text)
        self.assertNotIn("twice", text)
        self.assertIn("\treturn 7;\n", text)                 # lab 02 from the solution
        self.assertIn('\t// @stub lab_todo(1, "f");\n', text)  # markers from the solution
        self.assertEqual(regions.parse("a.c", text).region("f").body, ["\treturn thrice(x) - x;\n"])
        self.assertEqual(s.notes, [])
        self.assertEqual((s.tree / "vmm" / "b.c").read_text(), "int b;\n")

    def test_the_skeleton_builds_stubs_only(self):
        _, text = self.stage(1)
        self.assertEqual(text, regions.render(self.src, {"f": ['\tlab_todo(1, "f");\n'],
                                                         "f_helpers": ["/* your own types and static helpers */\n"]}))

    def test_changes_outside_the_regions_are_noted_not_used(self):
        self.edit(1, "int g(void)\n", "int g(void) /* mine */\n")
        s, text = self.stage(1)
        self.assertNotIn("mine", text)
        line = self.line(1, "int g(void) /* mine */")
        self.assertEqual(len(s.notes), 1)
        self.assertIn(f"lab 01: labs/01-one/vmm/a.c:{line}: differs from the skeleton outside the lab 01 regions",
                      s.notes[0])
        self.assertIn("not used", s.notes[0])

    def test_edits_to_another_labs_region_are_noted(self):
        self.edit(1, '\tlab_todo(2, "g");\n', "\treturn 8;\n")
        s, text = self.stage(1)
        self.assertIn("\treturn 7;\n", text)
        self.assertEqual(len(s.notes), 1)

    def test_missing_region(self):
        text = self.student(1).read_text()
        start = text.index("\t// @lab 01 f:")
        end = text.index("// @end\n", start) + len("// @end\n")
        self.student(1).write_text(text[:start] + text[end:])
        msg = self.error(1)
        self.assertIn("lab 01: labs/01-one/vmm/a.c: region f ", msg)
        self.assertIn("is missing", msg)
        self.assertNotIn("renamed", msg)

    def test_renamed_region(self):
        self.edit(1, "// @lab 01 f: Double x.", "// @lab 01 double_it: Double x.")
        msg, no = self.error(1), self.line(1, "// @lab 01 double_it")
        self.assertIn("lab 01: labs/01-one/vmm/a.c: region f ", msg)
        self.assertIn(f"double_it (line {no})", msg)
        self.assertIn("renamed?", msg)
        self.assertIn(f"lab 01: labs/01-one/vmm/a.c:{no}: region double_it is not a lab 01 region of "
                      "solution/vmm/a.c", msg)

    def test_extra_region(self):
        self.edit(1, "int g(void)\n", "// @lab 01 extra: Mine.\nint h;\n// @end\nint g(void)\n")
        msg = self.error(1)
        self.assertIn("lab 01: labs/01-one/vmm/a.c:", msg)
        self.assertIn("region extra is not a lab 01 region of solution/vmm/a.c (its lab 01 regions: f_helpers, f)", msg)

    def test_region_of_the_wrong_lab(self):
        self.edit(1, "// @lab 01 f: Double x.", "// @lab 02 f: Double x.")
        self.assertIn(f"lab 01: labs/01-one/vmm/a.c:{self.line(1, '// @lab 02 f')}: region f is marked '@lab 02'",
                      self.error(1))

    def test_missing_file(self):
        self.student(1).unlink()
        msg = self.error(1)
        self.assertIn("lab 01: labs/01-one/vmm/a.c is missing: it holds the lab's regions f_helpers, f "
                      "(solution/vmm/a.c)", msg)

    def test_malformed_markers(self):
        self.edit(1, "\t// @end\n}\n\nint g", "}\n\nint g")
        self.assertRegex(self.error(1), r"lab 01: labs/01-one/vmm/a.c:\d+: '@lab' inside region f")

    def test_symlink_refused(self):
        self.student(1).unlink()
        self.student(1).symlink_to(self.root / "solution" / REL)
        self.assertIn("lab 01: labs/01-one/vmm/a.c is a symbolic link", self.error(1))
        self.student(1).unlink()
        vmm = self.student(1).parent
        vmm.rmdir()
        vmm.symlink_to(self.root / "solution" / "vmm")
        self.assertIn("lab 01: labs/01-one/vmm/a.c: labs/01-one/vmm is a symbolic link", self.error(1))

    def test_cumulative_takes_every_lab_from_labs(self):
        self.edit(1, '\tlab_todo(1, "f");\n', "\treturn x << 1;\n")
        self.edit(2, '\tlab_todo(2, "g");\n', "\treturn 3 + 4;\n")
        _, text = self.stage(2, "cumulative")
        self.assertIn("\treturn x << 1;\n", text)
        self.assertIn("\treturn 3 + 4;\n", text)
        _, text = self.stage(2)                                 # student: lab 01 from the solution
        self.assertIn("\treturn twice(x);\n", text)
        self.assertIn("\treturn 3 + 4;\n", text)

    def test_release_stubs_later_labs(self):
        _, text = self.stage(1, "release")
        self.assertIn("\treturn twice(x);\n", text)
        self.assertIn('\tlab_todo(2, "g");\n\t// @stub lab_todo(2, "g");\n', text)
        self.assertNotIn("return 7", text)
        regions.parse("a.c", text)                              # still a well-formed solution file
        _, text = self.stage(2, "release")
        self.assertEqual(text, KIT_FILE)
        _, text = self.stage(3, "solution")
        self.assertEqual(text, KIT_FILE)

    def test_a_bad_submission_is_a_build_failure_naming_the_region(self):
        (self.root / "labs" / "01-one" / "rubric").write_text("hello 100 real-hello.bin\n")
        self.edit(1, "// @lab 01 f: Double x.", "// @lab 01 f2: Double x.")
        g = grading.grade_lab(self.root, 1, out=self.root / "build" / "graded")
        self.assertIn("region f ", g.build_error)
        self.assertEqual([(r.verdict, r.score) for r in g.results], [("FAIL", 0)])
        self.assertFalse(g.full_marks)


class ReportTest(unittest.TestCase):
    def test_first_error_of_a_build(self):
        log = ("ld: x/memory.c.o: in function `memory_init':\n"
               "x/memory.c:88: multiple definition of `memory_init'; x/host/memory.c.o: first defined here\n"
               "make: *** [host/host.mk:98: kvmlabs.elf] Error 1\n")
        self.assertTrue(report.first_error(log).startswith("x/memory.c:88: multiple definition"))
        self.assertEqual(report.first_error("lab 01: labs/01-x/a.c is missing: ...\n"),
                         "lab 01: labs/01-x/a.c is missing: ...")
        self.assertEqual(report.first_error("something odd\nand more\n"), "something odd")


class RubricTest(unittest.TestCase):
    def parse(self, text):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d, "rubric")
            path.write_text(text)
            return rubric.parse(path)

    def test_fields_and_options(self):
        t = self.parse("# comment\nsmp 10 prot-smp.elf section=exercise-6 needs=smp -- --cpus 2\n"
                       "tf 5 bad.bin expect=status:8\n")
        self.assertEqual((t[0].name, t[0].points, t[0].guest, t[0].args, t[0].needs, t[0].section),
                         ("smp", 10, "prot-smp.elf", ["--cpus", "2"], ("smp",), "exercise-6"))
        self.assertEqual((t[1].expected_status(), t[0].expected_status()), (8, 1))

    def test_errors(self):
        for text, msg in (("a 10\n", "expected 'test points guest"), ("a x g\n", "points must be"),
                          ("a 1 g bogus=1\n", "unknown field"), ("a 1 g expect=maybe\n", "expect must be"),
                          ("a 1 g\na 1 g\n", "repeated test name"), ("# nothing\n", "no tests")):
            with self.subTest(text=text):
                with self.assertRaisesRegex(rubric.RubricError, msg):
                    self.parse(text)

    def test_every_lab_rubric_parses_and_totals_100(self):
        for path in sorted(ROOT.glob("labs/*/rubric")):
            with self.subTest(rubric=str(path)):
                tests = rubric.parse(path)
                self.assertEqual(sum(t.points for t in tests), 100)
                for t in tests:
                    src = ROOT / "grader" / "guests" / Path(t.guest).stem
                    self.assertTrue(src.with_suffix(".c").exists() or src.with_suffix(".S").exists(),
                                    f"{t.guest}: no source in grader/guests")


GOOD = "kvmlabs: begin g\nok a\nok b\nkvmlabs: end passed=2 failed=0 skipped=0\n"


class VerdictTest(unittest.TestCase):
    def judge(self, status, transcript, expect="pass"):
        return runner.judge(rubric.Test("t", 10, "g", expect), status, transcript)

    def test_pass(self):
        self.assertEqual(self.judge(1, GOOD), ("PASS", ""))

    def test_failed_check(self):
        v, why = self.judge(3, GOOD.replace("ok b", "not ok b: read 1 want 2"))
        self.assertEqual(v, "FAIL")
        self.assertIn("b: read 1 want 2", why)

    def test_vmm_printing_end_without_ok_lines_fails(self):
        v, why = self.judge(1, "kvmlabs: end passed=2 failed=0 skipped=0\n")
        self.assertEqual(v, "FAIL")
        self.assertIn("but 0 'ok' lines were seen", why)

    def test_missing_summary(self):
        self.assertEqual(self.judge(1, "ok a\n")[0], "FAIL")

    def test_stub(self):
        n = status.load()["NOT_IMPLEMENTED"]
        v, why = self.judge(n, f"vmm: lab 01: vm_create() not implemented (exit status {n})\n")
        self.assertEqual((v, why), ("FAIL", "lab 01: vm_create() not implemented"))

    def test_crashes_and_timeouts(self):
        st = status.load()
        self.assertEqual(self.judge(st["TRIPLE_FAULT"], "vmm: vCPU 0 triple fault\n")[0], "CRASH")
        self.assertEqual(self.judge(st["INTERNAL_ERROR"], "")[0], "CRASH")
        self.assertEqual(self.judge(-11, "")[0], "CRASH")
        self.assertEqual(self.judge(st["TIMEOUT"], "")[0], "TIMEOUT")
        self.assertEqual(self.judge(None, "")[0], "TIMEOUT")
        self.assertEqual(self.judge(1, GOOD + "==1==ERROR: AddressSanitizer: heap-buffer-overflow\n")[0], "CRASH")

    def test_crash_names_the_failed_entry_check(self):
        t = ("vmentry-check: guest CS.AR 0xc08b: S must be 1 (code or data) (SDM 27.3.1.2)\n"
             "vmentry-check: guest SS.AR 0xc083: S must be 1 (code or data) (SDM 27.3.1.2)\n"
             "vmm:  rip 0000000000100000\nvmm: vCPU 0 VM entry failed (exit status 10)\n"
             "kvmlabs-host: exit status 10\n")
        v, why = self.judge(10, t)
        self.assertEqual(v, "CRASH")
        self.assertTrue(why.startswith("vmentry-check: guest CS.AR 0xc08b: S must be 1"), why)
        self.assertIn("and 1 more", why)
        v, why = self.judge(8, "vmm: vCPU 0 registers after 3 exits:\nvmm: vCPU 0 triple fault\n"
                               "kvmlabs-host: exit status 8\n")
        self.assertEqual(why, "vmm: vCPU 0 triple fault")

    def test_expected_status(self):
        self.assertEqual(self.judge(8, "ok about\n", "status:8")[0], "PASS")
        self.assertEqual(self.judge(1, GOOD, "status:8")[0], "FAIL")

    def test_dirty_cross_check(self):
        claim = "expect-dirty: region=0x400000+0x10000 wrote=0x401000,0x403000\n"
        good = GOOD + "dirty: 9 0x0 0x401000 0x403000 0x9000\n" + claim
        self.assertEqual(self.judge(1, good), ("PASS", ""))
        extra = GOOD + "dirty: 3 0x401000 0x403000 0x404000\n" + claim
        v, why = self.judge(1, extra)
        self.assertEqual(v, "FAIL")
        self.assertIn("0x404000", why)
        self.assertIn("printed no 'dirty:'", self.judge(1, GOOD + claim)[1])

    def test_differential(self):
        self.assertEqual(runner.differential((1, GOOD), (1, GOOD + "vmm: noise\n")), "")
        diff = runner.differential((1, GOOD.replace("ok b", "not ok b: x")), (1, GOOD))
        self.assertIn("-ok b", diff)
        self.assertIn("+not ok b: x", diff)


if __name__ == "__main__":
    unittest.main()
