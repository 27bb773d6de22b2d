"""The grader's own logic: region markers, skeletons, stages by region, rubrics and verdicts."""
import io
import json
import os
import shlex
import sys
import tempfile
import threading
import unittest
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import (answers, capstone, exercises, grading, labs, pointer, regions, report, reproduce,  # noqa: E402
                 rubric, runner, status, vmx)
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

    def test_checks_with_sections_of_their_own(self):
        t = self.parse("pae 10 prot-pg-pae.elf section=exercise-1 checks=pdpte-:exercise-5,xd:exercise-1\n")
        self.assertEqual(t[0].checks, (("pdpte-", "exercise-5"), ("xd", "exercise-1")))

    def test_a_test_on_another_platform(self):
        t = self.parse("vt 5 prot-hello.elf on=minikvm\nkvm 5 prot-hello.elf\n")
        self.assertEqual([labs.platform_of(2, x) for x in t], ["minikvm", "linux-kvm"])
        self.assertEqual([labs.platform_of(4, x) for x in t], ["minikvm", "minikvm"])

    def test_a_release_before_minikvm_skips_its_minikvm_tests(self):
        self.assertIn("lab 04", labs.minikvm_missing(2, "release"))
        self.assertIsNone(labs.minikvm_missing(2, "student"))
        self.assertIsNone(labs.minikvm_missing(4, "release"))

    def test_a_linux_kvm_lab_with_a_minikvm_test_builds_the_host(self):
        self.assertTrue(labs.needs_minikvm(2))      # lab 02's vt-segments
        self.assertFalse(labs.needs_minikvm(1))

    def test_errors(self):
        for text, msg in (("a 10\n", "expected 'test points guest"), ("a x g\n", "points must be"),
                          ("a 1 g bogus=1\n", "unknown field"), ("a 1 g expect=maybe\n", "expect must be"),
                          ("a 1 g\na 1 g\n", "repeated test name"), ("# nothing\n", "no tests"),
                          ("a 1 g on=qemu\n", "on must be one of linux-kvm, minikvm"),
                          ("a 1 g checks=x\n", "checks= wants"), ("a 1 g checks=x:ex-1\n", "checks= wants")):
            with self.subTest(text=text):
                with self.assertRaisesRegex(rubric.RubricError, msg):
                    self.parse(text)

    def test_a_lab_on_both_kernels_grades_on_minikvm(self):
        # Lab 09's devices are the VMM's: the student's minikvm first, Linux KVM to compare.
        self.assertEqual(labs.PLATFORM[9], "both")
        self.assertEqual(labs.runs_on(9), "minikvm")

    def test_disk_sizes(self):
        t = self.parse("blk 10 prot-virtio-blk.elf disk=64K\nbig 5 g disk=1M\nnone 5 g\n")
        self.assertEqual([x.disk for x in t], [64 << 10, 1 << 20, None])
        for bad in ("100", "0", "64G", "32M", "x"):
            with self.subTest(disk=bad):
                with self.assertRaisesRegex(rubric.RubricError, "disk= wants"):
                    self.parse(f"a 1 g disk={bad}\n")

    def test_every_lab_rubric_parses_and_totals_100(self):
        for path in sorted(ROOT.glob("labs/*/rubric")):
            with self.subTest(rubric=str(path)):
                tests = rubric.parse(path)
                self.assertEqual(sum(t.points for t in tests), 100)
                for t in tests:
                    if capstone.is_linux(t):     # built by grader/linux/build, from its init and config
                        self.assertTrue((ROOT / "grader/linux/init").exists())
                        continue
                    src = ROOT / "grader" / "guests" / Path(t.guest).stem
                    self.assertTrue(src.with_suffix(".c").exists() or src.with_suffix(".S").exists(),
                                    f"{t.guest}: no source in grader/guests")


class CapstoneTest(unittest.TestCase):
    """How far the kit's Linux got, from its boot log."""
    BOOT = ("Linux version 6.1.192 (root@vm) #1\nprintk: console [ttyS0] enabled\n"
            "Calibrating delay loop... 48.12 BogoMIPS (lpj=96256)\n"
            "virtio_blk virtio1: [vda] 2048 512-byte logical blocks (1.05 MB/1.00 MiB)\n"
            "Run /init as init process\nkvmlabs: begin linux-capstone\nok linux-init\n"
            "kvmlabs: end passed=1 failed=0 skipped=0\n")

    def test_a_whole_boot_reaches_every_phase(self):
        self.assertEqual(capstone.phases(self.BOOT), "")
        self.assertTrue(capstone.is_linux(rubric.Test("linux-boot", 10, "linux/bzImage")))
        self.assertFalse(capstone.is_linux(rubric.Test("blk", 10, "prot-virtio-blk.elf")))

    def test_the_first_phase_missing_is_named_with_its_labs(self):
        cut = self.BOOT.split("virtio_blk")[0] + "Kernel panic - not syncing: VFS: Unable to mount root fs\n"
        why = capstone.phases(cut)
        self.assertIn("reached: decompressed, early console, timer; not reached: virtio probe", why)
        self.assertIn("lab 09", why)
        self.assertIn("Kernel panic - not syncing: VFS", why)
        self.assertIn("reached: none; not reached: decompressed", capstone.phases("kvmlabs-host: exit status 8\n"))

    def test_lab_09_boots_the_kit_s_linux(self):
        tests = [t for t in rubric.parse(ROOT / "labs/09-virtio/rubric") if capstone.is_linux(t)]
        self.assertEqual([t.name for t in tests], ["linux-boot"])
        self.assertIn("linux", tests[0].needs)     # this host's KVM cannot: minikvm only


class DiskTest(unittest.TestCase):
    """The disk a disk= test is given and the check of it after a Linux KVM run."""
    SECTORS = 8

    def written(self, first, last, seed):
        data = bytearray(runner.disk_fill(self.SECTORS * 512))
        for s in range(first, last + 1):
            data[s * 512:(s + 1) * 512] = b"".join(runner.disk_word(s, j, seed).to_bytes(4, "little")
                                                    for j in range(128))
        return data

    def test_the_fill_is_guest_abi_s(self):
        data = runner.disk_fill(4 * 512)
        self.assertEqual(len(data), 2048)
        self.assertTrue(all(data[i] == (i ^ (i >> 9) * 0x3b) & 0xff for i in range(len(data))))

    def test_what_the_guest_said_it_wrote(self):
        line = "expect-disk: first=2 last=5 seed=0x1234\n"
        self.assertEqual(runner.check_disk(bytes(self.written(2, 5, 0x1234)), line), "")
        self.assertEqual(runner.check_disk(runner.disk_fill(self.SECTORS * 512), ""), "")

    def test_lost_misplaced_and_unclaimed_writes(self):
        line = "expect-disk: first=2 last=5 seed=0x1234\n"
        lost = self.written(2, 5, 0x1234)
        lost[4 * 512 + 17] ^= 0xff
        self.assertIn("sector 4 byte 17", runner.check_disk(bytes(lost), line))
        stray = self.written(2, 5, 0x1234)
        stray[7 * 512] ^= 1
        self.assertIn("sector 7 byte 0", runner.check_disk(bytes(stray), line))
        self.assertIn("grader's fill", runner.check_disk(bytes(stray), line))
        self.assertIn("said nothing", runner.check_disk(bytes(self.written(0, 0, 1)), ""))
        self.assertIn("not on a disk", runner.check_disk(bytes(self.written(0, 0, 1)),
                                                         "expect-disk: first=0 last=8 seed=0x1\n"))

    def test_a_disk_problem_fails_the_run(self):
        t = runner.mac.Transcript(GOOD, None)
        t.disk_problem = "disk file after the run: sector 1 byte 0 is 0x00, 0x3b expected"
        verdict, reason = runner.judge(rubric.Test("t", 1, "g"), status.GUEST_PASSED, t)
        self.assertEqual((verdict, reason), ("FAIL", t.disk_problem))
        self.assertEqual(runner.judge(rubric.Test("t", 1, "g"), status.GUEST_PASSED, GOOD)[0], "PASS")


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



# ---- what a student sees when something is wrong ------------------------------

HANDOUT = """# Lab 04: a synthetic handout

## Exercises

### Exercise 1 — control adjustment (`vmx_adjust_controls`, vmx/vmx_caps.c)

### Exercise 2 — the `kvm_run` area, twice (`area_map()`, vm.c)

### Exercise 3 — the host-state area (`vmx_setup_host_state`, vmx/vmx.c)

### Exercise 4 — the guest-state area (`vmx_segment_access_rights`, vmx/vmx_decode.c; `vmx_init_guest_nonregister_state`, `vmx_set_segment`, vmx/vmx.c)

### Exercise 5 — launch (`vmx_vcpu_run`)

### Exercise 6 — reading only

## Questions

Answer in `labs/04-x/answers.md`.

1. Why must the guest's CR0 read PG=0
   while the processor runs it with PG=1?
2. Where does the accessed bit come from?
3. What would go wrong?

## Running and grading

1. Not a question: a list after the Questions section.
"""


def kit(root, handouts):
    """A synthetic kit under root: labs/NAME/README.md for each {name: text}."""
    for name, text in handouts.items():
        d = Path(root, "labs", name)
        d.mkdir(parents=True, exist_ok=True)
        (d / "README.md").write_text(text)
    return Path(root)


class ExercisesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.lab = kit(self.tmp.name, {"04-x": HANDOUT}) / "labs" / "04-x"

    def tearDown(self):
        self.tmp.cleanup()

    def test_headings_name_their_regions(self):
        self.assertEqual(exercises.sections(self.lab), {
            "vmx_adjust_controls": "exercise-1", "area_map": "exercise-2", "vmx_setup_host_state": "exercise-3",
            "vmx_segment_access_rights": "exercise-4", "vmx_init_guest_nonregister_state": "exercise-4",
            "vmx_set_segment": "exercise-4", "vmx_vcpu_run": "exercise-5"})
        self.assertEqual(exercises.section_of(self.lab, "vmx_set_segment"), "exercise-4")
        self.assertIsNone(exercises.section_of(self.lab, "kvm_run"))     # a backquoted word of a title
        self.assertIsNone(exercises.section_of(self.lab, "vmx_helpers"))
        self.assertIsNone(exercises.section_of(self.lab, None))
        self.assertIsNone(exercises.section_of(Path(self.tmp.name, "nowhere"), "vmx_vcpu_run"))

    def test_titles(self):
        self.assertEqual(exercises.title_of(self.lab, "exercise-4"), "Exercise 4 — the guest-state area")
        self.assertEqual(exercises.title_of(self.lab, "exercise-6"), "Exercise 6 — reading only")
        self.assertEqual(exercises.title_of(self.lab, "exercise-9"), "Exercise 9")

    def test_every_lab_region_is_named_by_an_exercise_of_its_handout(self):
        # The grader sends a student whose stub ran to the exercise that names it.
        for lab, files in regions.lab_files(ROOT / "solution").items():
            d = labs.lab_dir(ROOT, lab)
            if d is None or not (d / "rubric").exists():
                continue
            names = exercises.sections(d)
            for rel in files:
                for r in regions.parse(ROOT / "solution" / rel).lab_regions(lab):
                    if r.name.endswith("helpers"):
                        continue
                    with self.subTest(lab=lab, region=r.name):
                        self.assertIn(r.name, names, f"no '### Exercise N — ... (`{r.name}`, ...)' heading "
                                                     f"in {d.name}/README.md")


class TailTest(unittest.TestCase):
    def test_bounded_in_lines(self):
        text = "".join(f"line {i}\n" for i in range(100))
        shown, total = report.tail(text)
        self.assertEqual((len(shown), total), (report.TAIL_LINES, 100))
        self.assertEqual(shown[-1], "line 99")
        self.assertEqual(report.tail_heading(shown, total), "transcript tail (last 20 of 100 lines):")

    def test_bounded_in_bytes(self):
        text = "\n".join("x" * 150 for _ in range(40))
        shown, total = report.tail(text)
        self.assertLessEqual(sum(len(l.encode()) + 1 for l in shown), report.TAIL_BYTES)
        self.assertLess(len(shown), report.TAIL_LINES)
        wide = "\n".join("\U0001f600" * 3000 for _ in range(3))     # 4-byte characters, one huge line each
        shown, _ = report.tail(wide)
        self.assertLessEqual(sum(len(l.encode()) + 1 for l in shown), report.TAIL_BYTES)
        self.assertTrue(shown)

    def test_control_bytes_are_escaped(self):
        shown, _ = report.tail("a\x00b\x1b[31mred\x7f\r\nform\x0cfeed\x0bvt\x85\ntab\tend\n")
        self.assertEqual(shown, ["a\\x00b\\x1b[31mred\\x7f", "form\\x0cfeed\\x0bvt\\x85", "tab     end"])
        for line in shown:
            self.assertTrue(line.isprintable(), line)

    def test_long_lines_are_cut_with_a_marker(self):
        line = report.printable("y" * 5000)
        self.assertTrue(line.startswith("y" * report.LINE_CHARS))
        self.assertTrue(line.endswith("[... 4800 more characters]"), line[-40:])

    def test_empty(self):
        self.assertEqual(report.tail(""), ([], 0))
        self.assertEqual(report.tail(None), ([], 0))
        self.assertIn("printed nothing", report.tail_heading([], 0))


def failed(reason="lab 04: vmx_vcpu_run() not implemented", verdict="FAIL", transcript=None, **kw):
    t = rubric.Test("io", 15, "prot-vmx-io.elf", section="exercise-6", args=["--no-irqchip"])
    r = runner.Result(t, verdict, reason, transcript if transcript is not None else f"vmm: {reason}\n", 0.3, 20)
    for k, v in kw.items():
        setattr(r, k, v)
    return r


class ResultBlockTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = kit(self.tmp.name, {"04-x": HANDOUT})
        self.lab = self.root / "labs" / "04-x"

    def tearDown(self):
        self.tmp.cleanup()

    def block(self, r):
        return report.format_result(r, self.lab, self.root, tty=False)

    def test_a_failure_is_one_block_with_pointer_tail_and_rerun(self):
        r = failed(section="exercise-5", exercise="vmx_vcpu_run", handout="labs/04-x",
                   rerun="make run LAB=04 GUEST=prot-vmx-io.elf ARGS='--no-irqchip'")
        text = self.block(r)
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("  FAIL    io "), lines[0])
        self.assertIn("read: labs/04-x/README.md, Exercise 5 — launch (vmx_vcpu_run)", text)
        self.assertIn("transcript:", text)
        self.assertIn("| vmm: lab 04: vmx_vcpu_run() not implemented", text)
        self.assertEqual(lines[-1].strip(), "rerun: make run LAB=04 GUEST=prot-vmx-io.elf ARGS='--no-irqchip'")
        self.assertTrue(text.endswith("\n"))

    def test_the_rubric_section_when_nothing_was_derived(self):
        self.assertIn("read: labs/04-x/README.md, Exercise 6 — reading only", self.block(failed()))

    def test_a_crash_shows_its_tail_and_the_entry_checks_the_dump_pushed_out(self):
        dump = "".join(f"vmm:  reg{i} 0\n" for i in range(30))
        t = ("vmentry-check: guest CS.AR 0xc08b: S must be 1 (code or data) (SDM 27.3.1.2)\n" + dump +
             "vmm: vCPU 0 VM entry failed: hardware_entry_failure_reason 0x80000021 on cpu 0 (exit status 10)\n")
        text = self.block(failed("vmentry-check: guest CS.AR ...", "CRASH", t))
        self.assertIn("failed VM-entry checks", text)
        self.assertIn("| vmentry-check: guest CS.AR 0xc08b", text)
        self.assertIn("transcript tail (last 20 of 32 lines):", text)
        self.assertIn("| vmm: vCPU 0 VM entry failed", text)

    def test_long_notes_are_bounded(self):
        r = failed(notes=["\n".join(f"+not ok x{i}\x07" for i in range(100))])
        text = self.block(r)
        self.assertIn("[... 80 more lines]", text)
        self.assertIn("+not ok x19\\x07", text)
        self.assertNotIn("x20", text)

    def test_a_diagnosis_is_shown(self):
        self.assertIn("why: CS is not marked accessed", self.block(failed(diagnosis="CS is not marked accessed")))

    def test_a_pass_shows_one_line(self):
        r = failed("", "PASS", "ok a\n", rerun="make run ...")
        self.assertEqual(len(self.block(r).splitlines()), 1)

    def test_printing_writes_the_block_at_once(self):
        out = mock.Mock()
        report.print_result(failed(rerun="make run x"), self.lab, self.root, False, out=out)
        self.assertEqual(out.write.call_count, 1)

    def test_parallel_results_never_interleave(self):
        # grade_stage runs tests on a thread pool; each result's block is printed whole.
        class Lines(io.StringIO):
            def write(self, s):        # a slow terminal: every character separately
                for ch in s:
                    super().write(ch)
                return len(s)
        out = Lines()
        results = [failed(f"lab 04: f{i}() not implemented", transcript="".join(f"t{i} {j}\n" for j in range(30)))
                   for i in range(8)]
        lock = threading.Lock()

        def show(r):
            with lock:
                report.print_result(r, self.lab, self.root, False, out=out)
        threads = [threading.Thread(target=show, args=(r,)) for r in results]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        blocks = out.getvalue().split("  FAIL    ")[1:]
        self.assertEqual(len(blocks), 8)
        for b in blocks:
            owner = b.split("f", 1)[1].split("()")[0]
            self.assertNotRegex(b, rf"\| t(?!{owner} )\d+ ")


class StatusNameTest(unittest.TestCase):
    def test_every_status_has_a_name(self):
        st = status.load()
        self.assertEqual(st.name(1), "GUEST_PASSED")
        self.assertEqual(st.name(3), "GUEST_FAILED")
        self.assertEqual(st.name(5), "GUEST_EXIT_2")
        self.assertEqual(st.name(st["FAIL_ENTRY"]), "FAIL_ENTRY")
        self.assertEqual(st.name(-11), "SIGSEGV")
        self.assertEqual(st.name(124), "RUNNER_TIMEOUT")
        self.assertEqual(st.name(None), "KILLED")
        self.assertEqual(st.name(200), "UNKNOWN_200")
        for n in [None, -9, *range(0, 130)]:
            self.assertNotIn("?", st.name(n))

    def test_the_header_names_first(self):
        st = status.Statuses({"HALTED": 0, "GUEST_PASSED": 1}, {"GUEST_PASSED": "the guest says so"})
        self.assertEqual(st.describe(1), "1 (GUEST_PASSED: the guest says so)")
        self.assertEqual(st.name(3), "GUEST_FAILED")

    def test_describe_gives_the_headers_comment(self):
        st = status.load()
        self.assertEqual(st.describe(st["TRIPLE_FAULT"]), f"{st['TRIPLE_FAULT']} (TRIPLE_FAULT: KVM_EXIT_SHUTDOWN)")
        self.assertIn("reported every check passed", st.describe(1))

    def test_a_wrong_status_is_named_in_the_verdict(self):
        v, why = runner.judge(rubric.Test("t", 10, "g", "status:8"), 1, GOOD)
        self.assertEqual(v, "FAIL")
        self.assertIn("exit status 1 (GUEST_PASSED), expected 8 (TRIPLE_FAULT)", why)


class VmxDecodeTest(unittest.TestCase):
    def test_failure_reasons(self):
        self.assertEqual(vmx.decode_failure_reason(0x80000021),
                         "VM-entry failure (bit 31), basic exit reason 33 INVALID_STATE: invalid guest state "
                         "(SDM Vol. 3 27.8)")
        self.assertIn("34 MSR_LOAD_FAIL: MSR loading", vmx.decode_failure_reason(0x80000022))
        self.assertIn("41 MCE_DURING_VMENTRY: machine-check event", vmx.decode_failure_reason(0x80000029))
        self.assertEqual(vmx.decode_failure_reason(7),
                         "VM-instruction error 7: VM entry with invalid control field(s) (SDM Vol. 3 31.4)")
        self.assertIn("host-state", vmx.decode_failure_reason(8))

    def test_the_vmm_line_of_a_failed_entry_is_decoded(self):
        t = "vmm: vCPU 0 VM entry failed: hardware_entry_failure_reason 0x80000021 on cpu 0 (exit status 10)\n"
        v, why = runner.judge(rubric.Test("t", 10, "g"), 10, t)
        self.assertEqual(v, "CRASH")
        self.assertIn("0x80000021 [VM-entry failure (bit 31), basic exit reason 33 INVALID_STATE: invalid guest state",
                      why)

    def test_a_check_names_the_region_writing_its_field(self):
        cases = {
            "guest CS.AR 0xc09a: type must be code (SDM 27.3.1.2)": ("vmx_segment_access_rights", "guest"),
            "guest SS selector 0x0003: RPL must equal CS's": ("vmx_set_segment", "guest"),
            "guest TR.limit 0x10000: x": ("vmx_set_segment", "guest"),
            "guest ES.base 0x100000000: bits 63:32 must be 0": ("vmx_set_segment", "guest"),
            "guest RIP 0x100000000: bits 63:32 must be 0 outside 64-bit mode": ("vmx_vcpu_run", "guest"),
            "VMCS link pointer 0x0000: must be 0xffffffffffffffff": ("vmx_init_guest_nonregister_state", "guest"),
            "guest activity state 0x0007: must be 0 (active) to 3": ("vmx_init_guest_nonregister_state", "guest"),
            "guest CR0 0x0011: PG must be 1": (None, "guest"),
            "host CR4 0x0000: violates IA32_VMX_CR4_FIXED0/1": ("vmx_setup_host_state", "host"),
            "host CS selector 0x000b: RPL and TI must be 0": ("vmx_setup_host_state", "host"),
            "HOST_RIP is 0: the VMCS field was never written; ...": ("vmx_setup_host_state", "host"),
            "VM-entry controls 0x11ff: bit 2 must be 1 (allowed-0 setting in X)": ("vmx_adjust_controls", "controls"),
            "primary processor-based controls 0x0000: bit 1 must be 1": ("vmx_adjust_controls", "controls"),
        }
        for line, want in cases.items():
            with self.subTest(line=line):
                self.assertEqual(vmx.check_region("vmentry-check: " + line), want)
        self.assertIsNone(vmx.check_region("vmm: something else"))


LAB01 = """# Lab 01

### Exercise 1 — open KVM (`vmm_open_kvm`, vm.c)

### Exercise 2 — the VM (`vm_create`, vm.c)
"""


class PointerTest(unittest.TestCase):
    """Where a failure points, on a synthetic kit with lab 01's and lab 04's handouts."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = kit(self.tmp.name, {"01-one": LAB01, "04-x": HANDOUT})
        self.test = rubric.Test("io", 15, "prot-vmx-io.elf", section="exercise-6")
        self.no_diagnose = mock.patch.object(pointer, "diagnose_module", return_value=None)
        self.no_diagnose.start()

    def tearDown(self):
        mock.patch.stopall()
        self.tmp.cleanup()

    def derive(self, transcript, search=(4,), status=10):
        return pointer.derive(self.test, status, transcript, self.root, 4, list(search))

    def test_a_stub_points_at_the_exercise_naming_it(self):
        p = self.derive("vmm: lab 04: vmx_set_segment() not implemented (exit status 20)\n")
        self.assertEqual((p.section, p.exercise, p.handout.name, p.source),
                         ("exercise-4", "vmx_set_segment", "04-x", "stub"))

    def test_a_stub_of_an_earlier_lab_points_into_that_labs_handout(self):
        p = self.derive("vmm: lab 01: vm_create() not implemented (exit status 20)\n", search=(4, 3, 2, 1))
        self.assertEqual((p.section, p.exercise, p.handout.name), ("exercise-2", "vm_create", "01-one"))

    def test_a_failed_entry_check_points_at_the_region_writing_the_field(self):
        p = self.derive("vmentry-check: host CR4 0x0000: violates X (SDM 27.2.2)\n"
                        "vmentry-check: guest CS.AR 0xc08b: S must be 1 (SDM 27.3.1.2)\n")
        self.assertEqual((p.section, p.exercise, p.source), ("exercise-3", "vmx_setup_host_state", "vmentry"))
        p = self.derive("vmentry-check: guest CR0 0x0011: PG must be 1 (SDM 27.3.1.1)\n")
        self.assertEqual((p.section, p.exercise, p.source), ("exercise-4", None, "vmentry"))
        p = self.derive("vmentry-check: VM-exit controls 0x0000: bit 9 must be 1 (allowed-0 setting in X)\n")
        self.assertEqual((p.section, p.exercise), ("exercise-1", "vmx_adjust_controls"))

    def test_a_check_whose_region_is_not_the_students_falls_through(self):
        # Lab 05 graded alone: lab 04's regions are the solution's, so its handout is not searched.
        p = pointer.derive(self.test, 10, "vmentry-check: host CR4 0x0000: x (SDM 27.2.2)\n", self.root, 4, [5])
        self.assertEqual((p.section, p.source), ("exercise-6", "rubric"))

    def test_the_diagnosis_names_the_region(self):
        fake = SimpleNamespace(explain=mock.Mock(return_value=SimpleNamespace(
            reason="HLT does not leave KVM_RUN", region="vmx_vcpu_run")))
        with mock.patch.object(pointer, "diagnose_module", return_value=fake):
            p = self.derive("ok a\n", status=3)
        fake.explain.assert_called_once_with(self.test, 3, "ok a\n")
        self.assertEqual((p.section, p.exercise, p.source, p.diagnosis),
                         ("exercise-5", "vmx_vcpu_run", "diagnose", "HLT does not leave KVM_RUN"))

    def test_a_diagnosis_without_a_known_region_keeps_the_rubrics_section(self):
        fake = SimpleNamespace(explain=lambda *a: SimpleNamespace(reason="the kit's own fault", region=None))
        with mock.patch.object(pointer, "diagnose_module", return_value=fake):
            p = self.derive("x\n")
        self.assertEqual((p.section, p.exercise, p.source, p.diagnosis),
                         ("exercise-6", None, "diagnose", "the kit's own fault"))

    def test_a_stub_comes_before_the_diagnosis(self):
        fake = SimpleNamespace(explain=mock.Mock(return_value=SimpleNamespace(reason="r", region="vmx_vcpu_run")))
        with mock.patch.object(pointer, "diagnose_module", return_value=fake):
            p = self.derive("vmm: lab 04: vmx_adjust_controls() not implemented\n")
        self.assertEqual((p.section, p.source), ("exercise-1", "stub"))
        fake.explain.assert_not_called()

    def test_a_broken_diagnosis_does_not_stop_grading(self):
        fake = SimpleNamespace(explain=mock.Mock(side_effect=KeyError("boom")))
        with mock.patch.object(pointer, "diagnose_module", return_value=fake):
            p = self.derive("x\n")
        self.assertEqual((p.section, p.source), ("exercise-6", "rubric"))
        self.assertIn("diagnose.explain failed: KeyError", p.error)

    def test_otherwise_the_rubrics_section(self):
        p = self.derive("not ok b: read 1 want 2\n", status=3)
        self.assertEqual((p.section, p.exercise, p.handout.name, p.source), ("exercise-6", None, "04-x", "rubric"))

    def test_a_check_with_a_section_of_its_own(self):
        self.test = rubric.Test("io", 15, "prot-vmx-io.elf", section="exercise-6",
                                checks=(("scratch-", "exercise-2"), ("id", "exercise-1")))
        p = self.derive("ok a\nnot ok scratch-4: read 1 want 2\nnot ok id: x\n", status=3)
        self.assertEqual((p.section, p.source), ("exercise-2", "check"))
        # The first failure decides: one without a section of its own leaves the rubric's.
        p = self.derive("not ok other: x\nnot ok id: y\n", status=3)
        self.assertEqual((p.section, p.source), ("exercise-6", "rubric"))

    def test_the_kits_diagnose_module_is_used_when_present(self):
        self.no_diagnose.stop()
        found = pointer.diagnose_module()
        self.assertEqual(found is None, not (ROOT / "grader" / "lib" / "diagnose.py").exists())


class SandboxReachTest(unittest.TestCase):
    """A kit the sandbox's uids cannot reach (a checkout under /root graded as root):
    a student's own grade runs unsandboxed and says why; a batch (mode "on") keeps
    the sandbox and lets each stage say it cannot be reached."""

    def setUp(self):
        from lib import sandbox
        self.sandbox, self.kit = sandbox, sandbox.KIT
        if not sandbox.as_root() or sandbox.problem():
            self.skipTest("needs root and a working bubblewrap")
        d = tempfile.mkdtemp()                       # 0700: not searchable by others
        self.addCleanup(os.rmdir, d)
        sandbox.KIT = Path(d, "kvmlabs")
        sandbox.kit_unreachable.cache_clear()

    def tearDown(self):
        self.sandbox.KIT = self.kit
        self.sandbox.kit_unreachable.cache_clear()
        self.sandbox.set_mode(None)

    def test_auto_runs_unsandboxed_with_a_note(self):
        self.sandbox.set_mode("auto")
        self.assertFalse(self.sandbox.active())
        self.assertIn("not searchable by others", self.sandbox.note())

    def test_batch_keeps_the_sandbox(self):
        self.sandbox.set_mode("on")
        self.assertTrue(self.sandbox.active())


class RerunTest(unittest.TestCase):
    def test_the_command_reproduces_the_test(self):
        t = rubric.Test("msr", 10, "prot-vmx-msr.elf", args=["--no-irqchip"])
        self.assertEqual(reproduce.rerun_command(4, t), "make run LAB=04 GUEST=prot-vmx-msr.elf ARGS='--no-irqchip'")
        self.assertEqual(reproduce.rerun_command(1, rubric.Test("h", 1, "real-hello.bin"), "solution"),
                         "make run LAB=01 GUEST=real-hello.bin SOLUTION=1")
        t = rubric.Test("s", 1, "prot-smp.elf", args=["--cpus", "2", "a b", "it's"], timeout=30)
        cmd = reproduce.rerun_command(3, t, "cumulative")
        words = shlex.split(cmd)
        self.assertEqual(words[:4], ["make", "run", "LAB=03", "GUEST=prot-smp.elf"])
        self.assertEqual(shlex.split(words[4].split("=", 1)[1]), t.args)   # the recipe's shell splits ARGS
        self.assertEqual(words[5:], ["TIMEOUT=30", "CUMULATIVE=1"])

    def test_a_test_on_its_own_platform_is_rerun_by_name(self):
        t = rubric.Test("vt-segments", 5, "prot-hello.elf", on="minikvm")
        self.assertEqual(reproduce.rerun_command(2, t), "make run LAB=02 GUEST=vt-segments")
        with tempfile.TemporaryDirectory() as d:
            guests = Path(d)
            chosen = reproduce.choose(ROOT, 2, "vt-segments", [], guests)
            self.assertEqual((chosen.test.guest, chosen.test.on), ("prot-hello.elf", "minikvm"))

    def test_a_rubric_test_name_runs_its_guest_and_options(self):
        with tempfile.TemporaryDirectory() as d:
            root = kit(d, {"04-x": HANDOUT})
            (root / "labs" / "04-x" / "rubric").write_text("msr 10 prot-vmx-msr.elf -- --no-irqchip\n")
            guests = root / "guests"
            guests.mkdir()
            (guests / "prot-vmx-msr.elf").write_bytes(b"\x7fELF")
            g = reproduce.choose(root, 4, "msr", [], guests)
            self.assertEqual((g.test.guest, g.test.args, g.from_rubric), ("prot-vmx-msr.elf", ["--no-irqchip"], True))
            g = reproduce.choose(root, 4, "prot-vmx-msr.elf", ["--cpus=2"], guests)
            self.assertEqual((g.test.guest, g.test.args, g.from_rubric), ("prot-vmx-msr.elf", ["--cpus=2"], False))
            with self.assertRaisesRegex(LookupError, "did you mean prot-vmx-msr.elf"):
                reproduce.choose(root, 4, "prot-vmx-msrr.elf", [], guests)

    def test_make_help_and_the_readme_list_make_run(self):
        self.assertIn("make run LAB=NN GUEST=", (ROOT / "Makefile").read_text())
        self.assertIn("| `make run LAB=NN GUEST=name", (ROOT / "README.md").read_text())


QUESTIONS = "## Questions\n\n1. One?\n2. Two?\n   more of two\n3. Three?\n\n## Next\n\n4. not one\n"


def template(n):
    return "# Answers\n\n" + "".join(f"## Question {i}\n\n_(your answer here)_\n\n" for i in range(1, n + 1))


class AnswersTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.handout = Path(self.tmp.name, "kit")
        self.handout.mkdir()
        (self.handout / "README.md").write_text(QUESTIONS)
        self.mine = Path(self.tmp.name, "mine")
        self.mine.mkdir()

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, text=None):
        if text is not None:
            (self.mine / "answers.md").write_text(text)
        return answers.check(self.handout, self.mine, shown="labs/01-x/answers.md")

    def test_the_handouts_questions(self):
        self.assertEqual(answers.questions(QUESTIONS), [1, 2, 3])
        self.assertEqual(answers.questions("# no questions\n1. x\n"), [])

    def test_the_template_answers_nothing(self):
        a = self.check(template(3))
        self.assertEqual((a.answered, a.empty, a.missing, a.complete), ([], [1, 2, 3], [], False))
        self.assertEqual(a.summary(), "0/3 answered: questions 1, 2 and 3 are empty")

    def test_all_answered(self):
        text = template(3).replace("_(your answer here)_", "Because.\n\n### a sub-heading\n\nmore", 3)
        a = self.check(text)
        self.assertEqual((a.answered, a.complete, a.summary()), ([1, 2, 3], True, "3/3 answered"))

    def test_one_empty(self):
        text = template(3).replace("_(your answer here)_", "Yes.", 2)
        a = self.check(text)
        self.assertEqual(a.summary(), "2/3 answered: question 3 is empty")

    def test_comments_and_whitespace_are_no_answer(self):
        text = template(3).replace("_(your answer here)_", "<!-- todo -->\n   \n", 1).replace(
            "_(your answer here)_", "A _(your answer here)_ kept, with text", 1)
        a = self.check(text)
        self.assertEqual((a.answered, a.empty), ([2], [1, 3]))

    def test_a_missing_section(self):
        a = self.check("## Question 1\nyes\n## Question 3\nno\n## Question 9\nextra\n")
        self.assertEqual(a.summary(), "2/3 answered: question 2 has no '## Question N' section in labs/01-x/answers.md")

    def test_a_missing_file(self):
        a = self.check()
        self.assertFalse(a.complete)
        self.assertEqual(a.summary(), "0/3 answered: labs/01-x/answers.md is missing "
                                      "(answer each question under '## Question N')")

    def test_a_symlink_or_binary_is_refused(self):
        (self.mine / "elsewhere.md").write_text(template(3).replace("_(your answer here)_", "x"))
        os.symlink(self.mine / "elsewhere.md", self.mine / "answers.md")
        self.assertIn("is not a regular file", self.check().summary())
        (self.mine / "answers.md").unlink()
        (self.mine / "answers.md").write_bytes(b"\xff\xfe## Question 1")
        self.assertIn("is not UTF-8 text", self.check().summary())

    def test_no_questions_no_check(self):
        (self.handout / "README.md").write_text("# Lab\n")
        self.assertIsNone(self.check(template(3)))

    def test_every_handout_has_questions(self):
        for lab in labs.existing(ROOT):
            with self.subTest(lab=lab):
                self.assertTrue(answers.questions((labs.lab_dir(ROOT, lab) / "README.md").read_text()))

    def test_graded_but_worth_nothing(self):
        g = grading.LabGrade(1, "student", "linux-kvm")
        g.results = [runner.Result(rubric.Test("hello", 30, "real-hello.bin"), "PASS", "")]
        g.answers = self.check(template(3).replace("_(your answer here)_", "Yes.", 2))
        doc = report.gradescope(g)
        self.assertEqual(doc["score"], 30)
        entry = doc["tests"][-1]
        self.assertEqual((entry["name"], entry["score"], entry["max_score"], entry["status"]),
                         ("answers", 0, 0, "failed"))
        self.assertIn("question 3 is empty", entry["output"])
        self.assertIn("answers: 2/3 answered: question 3 is empty (no points)", doc["output"])
        self.assertEqual(report.answers_line(g.answers), "  answers   2/3 answered: question 3 is empty (no points)")
        json.dumps(doc)

    def test_checked_for_students_not_for_the_solution(self):
        with tempfile.TemporaryDirectory() as d:
            root = kit(d, {"01-one": QUESTIONS})
            (root / "labs" / "01-one" / "answers.md").write_text(template(3))
            a = grading.check_answers(root, 1)
            self.assertEqual((a.path, a.empty), ("labs/01-one/answers.md", [1, 2, 3]))
        with mock.patch.object(grading, "grade_stage", return_value=grading.LabGrade(1, "solution", "linux-kvm")):
            self.assertIsNone(grading.grade_lab(ROOT, 1, "solution").answers)
        with mock.patch.object(grading, "grade_stage", return_value=grading.LabGrade(1, "student", "linux-kvm")):
            self.assertIsNotNone(grading.grade_lab(ROOT, 1, "student").answers)


class GradescopeTest(unittest.TestCase):
    def test_a_failure_carries_its_pointer_and_rerun(self):
        g = grading.LabGrade(4, "student", "minikvm")
        g.results = [failed(section="exercise-5", exercise="vmx_vcpu_run", handout="labs/04-vmx", pointed_by="stub",
                            rerun="make run LAB=04 GUEST=prot-vmx-io.elf ARGS='--no-irqchip'",
                            transcript="\x00" * 10 + "\n" + "z\n" * 100)]
        doc = report.gradescope(g)
        t = doc["tests"][0]
        self.assertIn("rerun: make run LAB=04 GUEST=prot-vmx-io.elf ARGS='--no-irqchip'", t["output"])
        self.assertRegex(t["output"], r"\nread: labs/04-vmx/README.md, Exercise 5 — .+ \(vmx_vcpu_run\)\n")
        self.assertIn("transcript tail (last 20 of 101 lines)", t["output"])
        self.assertNotIn("\x00", t["output"])
        self.assertEqual((t["extra_data"]["section"], t["extra_data"]["exercise"], t["extra_data"]["pointed_by"]),
                         ("exercise-5", "vmx_vcpu_run", "stub"))
        self.assertIsNone(doc["extra_data"]["answers"])


class HandoutTableTest(unittest.TestCase):
    """Each handout's grading table lists its rubric's tests, in order, with their points and exercise."""
    HEADER = "| test | points | guest | what it checks | exercise |"

    @classmethod
    def table(cls, text):
        """(test, points, exercise) of each row under HEADER, or None without one."""
        lines = text.splitlines()
        if cls.HEADER not in lines:
            return None
        rows = []
        for line in lines[lines.index(cls.HEADER) + 2:]:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            ex = cells[-1].split()[0] if cells[-1] else ""
            rows.append((cells[0], int(cells[1]) if cells[1].isdigit() else cells[1],
                         int(ex) if ex.isdigit() else cells[-1]))
        return rows

    @staticmethod
    def expected(tests):
        def exercise(section):
            n = (section or "").removeprefix("exercise-")
            return int(n) if n.isdigit() else section
        return [(t.name, t.points, exercise(t.section)) for t in tests]

    def test_parses_a_table(self):
        text = f"x\n\n{self.HEADER}\n|---|---|---|---|---|\n| a | 5 | g.elf, `--cpus=2` | it | 3 (and 1) |\n\nafter | b |\n"
        self.assertEqual(self.table(text), [("a", 5, 3)])
        self.assertIsNone(self.table("no table\n"))

    def test_every_handout_table_is_its_rubric(self):
        for lab in labs.existing(ROOT):
            d = labs.lab_dir(ROOT, lab)
            with self.subTest(lab=d.name):
                want = self.expected(rubric.parse(d / "rubric"))
                have = self.table((d / "README.md").read_text(encoding="utf-8"))
                self.assertIsNotNone(have, f"{d.name}/README.md: no grading table under '{self.HEADER}'")
                missing = [r for r in want if r not in have]
                extra = [r for r in have if r not in want]
                self.assertEqual(have, want,
                                 f"{d.name}/README.md: the grading table is not {d.name}/rubric's tests "
                                 f"(test, points, exercise) in rubric order; rubric only: {missing}; "
                                 f"table only: {extra}")


if __name__ == "__main__":
    unittest.main()
