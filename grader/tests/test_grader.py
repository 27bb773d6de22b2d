"""The grader's own logic: region markers, skeletons, rubrics and verdicts."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import regions, rubric, runner  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = {0: "HALTED", 1: "?", 8: "TRIPLE_FAULT", 12: "INTERNAL_ERROR", 16: "TIMEOUT", 20: "NOT_IMPLEMENTED"}

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
        _, regs = self.parse(SOURCE)
        self.assertEqual([(r.kind, r.name) for r in regs], [("lab", "f"), ("region", "table")])
        lab = regs[0]
        self.assertEqual((lab.lab, lab.task, lab.stub), (1, "Double x.", ['lab_todo(1, "f");']))
        self.assertEqual("".join(lab.body), "\tint y = x * 2;\n\treturn y;\n")

    def test_skeleton_replaces_only_the_lab_body(self):
        with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
            f.write(SOURCE)
        try:
            text = regions.skeleton_text(f.name)
        finally:
            os.unlink(f.name)
        self.assertNotIn("x * 2", text)
        self.assertIn('\tlab_todo(1, "f");\n', text)
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
            "// @lab 01 f: t\n// @stub s;\n// @end\n// @lab 02 g: t\n// @stub s;\n// @end\n": r"labs \[1, 2\] in one file",
            "// @region a\n// @end\n// @region a\n// @end\n": r"region name a already used",
        }
        for text, msg in cases.items():
            with self.subTest(text=text):
                with self.assertRaisesRegex(regions.RegionError, msg):
                    self.parse(text)

    def test_solution_tree_parses(self):
        owned = regions.lab_files(os.path.join(ROOT, "solution"))
        self.assertIn("vmm/vm.c", owned[1])
        self.assertIn("vmm/modes.c", owned[2])


class RubricTest(unittest.TestCase):
    def parse(self, text):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(text)
        try:
            return rubric.parse(f.name)
        finally:
            os.unlink(f.name)

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
        import glob
        for path in glob.glob(os.path.join(ROOT, "labs", "*", "rubric")):
            with self.subTest(rubric=path):
                tests = rubric.parse(path)
                self.assertEqual(sum(t.points for t in tests), 100)
                for t in tests:
                    src = os.path.join(ROOT, "grader", "guests", os.path.splitext(t.guest)[0])
                    self.assertTrue(os.path.exists(src + ".c") or os.path.exists(src + ".S"),
                                    f"{t.guest}: no source in grader/guests")


GOOD = "kvmlabs: begin g\nok a\nok b\nkvmlabs: end passed=2 failed=0 skipped=0\n"


class VerdictTest(unittest.TestCase):
    def judge(self, status, transcript, expect="pass"):
        return runner.judge(rubric.Test("t", 10, "g", expect), status, transcript, NAMES)

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
        v, why = self.judge(20, "vmm: lab 01: vm_create() not implemented (exit status 20)\n")
        self.assertEqual((v, why), ("FAIL", "lab 01: vm_create() not implemented"))

    def test_crashes_and_timeouts(self):
        self.assertEqual(self.judge(8, "vmm: vCPU 0 triple fault\n")[0], "CRASH")
        self.assertEqual(self.judge(12, "")[0], "CRASH")
        self.assertEqual(self.judge(-11, "")[0], "CRASH")
        self.assertEqual(self.judge(16, "")[0], "TIMEOUT")
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
