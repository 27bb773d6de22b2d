"""The mutant catalogues' parser, the application of a mutant's edits, the labs
tree it makes, the sample and the summary (synthetic files; no KVM needed)."""
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import exercises, mutants, regions, runner  # noqa: E402
from lib.rubric import Test  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

SOURCE = """#include <x.h>

// @lab 01 helpers: Your own helpers.
// @stub /* helpers */
// @end

int f(int x)
{
	// @lab 01 f: Double x, then add one.
	int y = x * 2;
	if (y < 0)
		return 0;
	return y + 1;
	// @stub lab_todo(1, "f");
	// @end
}

int g(int x)
{
	// @lab 02 g: Triple x.
	return x * 3;
	// @stub lab_todo(2, "g");
	// @end
}
"""

CATALOGUE = """# a comment
mutant double-becomes-triple
file: vm/f.c
region: f
mistake: multiplies by three
note: a note
@@
-	int y = x * 2;
+	int y = x * 3;

mutant no-clamp
file: vm/f.c
region: f
mistake: negative values not clamped, and one more added
@@
 	int y = x * 2;
-	if (y < 0)
-		return 0;
@@
-	return y + 1;
+	return y + 2;
"""


def kit(tmp):
    """A kit checkout under tmp: solution/vm/f.c with regions of labs 01 and 02,
    labs/01-one and labs/02-two with handouts naming them."""
    root = Path(tmp)
    (root / "solution" / "vm").mkdir(parents=True)
    (root / "solution" / "vm" / "f.c").write_text(SOURCE)
    for name, heading in (("01-one", "### Exercise 2 — doubling (`f`, vm/f.c)"),
                          ("02-two", "### Exercise 1 — tripling (`g`, vm/f.c)")):
        d = root / "labs" / name
        d.mkdir(parents=True)
        (d / "README.md").write_text(f"# Lab\n\n## Exercises\n\n{heading}\n\nDo it.\n")
        (d / "rubric").write_text("t 100 x.bin section=exercise-1\n")
    return root


class ParseTest(unittest.TestCase):
    def test_fields_and_hunks(self):
        ms = mutants.parse(CATALOGUE, 1, "labs/01-one/mutants")
        self.assertEqual([m.name for m in ms], ["double-becomes-triple", "no-clamp"])
        m = ms[0]
        self.assertEqual((m.lab, m.file, m.region, m.mistake, m.note),
                         (1, "vm/f.c", "f", "multiplies by three", "a note"))
        self.assertEqual(m.where, "labs/01-one/mutants:2")
        self.assertEqual(len(m.edits), 1)
        self.assertEqual((m.edits[0].search, m.edits[0].replace), (["\tint y = x * 2;\n"], ["\tint y = x * 3;\n"]))
        two = ms[1]
        self.assertEqual(len(two.edits), 2)
        self.assertEqual(two.edits[0].search, ["\tint y = x * 2;\n", "\tif (y < 0)\n", "\t\treturn 0;\n"])
        self.assertEqual(two.edits[0].replace, ["\tint y = x * 2;\n"])
        self.assertEqual(two.edits[1].line, 19)

    def test_notes_and_expect(self):
        text = ("mutant m\nfile: a.c\nregion: r\nmistake: x\nexpect: unit\nnote: one\nnote: two\n@@\n-a\n"
                "mutant n\nfile: a.c\nregion: r\nmistake: x\n@@\n-a\n")
        m, n = mutants.parse(text, 1)
        self.assertEqual((m.expect, m.unit_only, m.note), ("unit", True, "one two"))
        self.assertEqual((n.expect, n.unit_only), ("rubric", False))
        self.assertEqual(mutants.sample([m, n], 2), [n])      # a sample is of what guests can see

    def test_an_empty_line_in_a_hunk(self):
        text = "mutant m\nfile: a.c\nregion: r\nmistake: x\n@@\n-\tone;\n-\n+\ttwo;\n"
        (m,) = mutants.parse(text, 1)
        self.assertEqual(m.edits[0].search, ["\tone;\n", "\n"])
        self.assertEqual(m.edits[0].replace, ["\ttwo;\n"])

    def test_errors_name_the_line_and_the_mutant(self):
        head = "mutant m\nfile: a.c\nregion: r\nmistake: x\n"
        cases = {
            "file: a.c\n": r"c:1: expected 'mutant NAME'",
            "mutant Bad_Name\n": r"c:1: bad mutant name 'Bad_Name'",
            "mutant baseline\n": r"bad mutant name 'baseline'",
            head + "@@\n-a\n" + head + "@@\n-b\n": r"c:7: mutant m already defined at line 1",
            "mutant m\nfile: a.c\nmistake: x\n@@\n-a\n": r"c:1: mutant m: no region: line",
            head: r"mutant m: no edit",
            head + "@@\n": r"c:5: mutant m: an edit with no '-' or '\+' line",
            head + "@@\n+\tonly;\n": r"c:5: mutant m: an edit that only adds lines needs a context line",
            head + "@@\n-a\nfile: b.c\n": r"c:7: mutant m: 'file:' after its edits",
            "mutant m\nfile: a.c\nfile: b.c\n": r"c:3: mutant m: a second 'file:' line",
            head + "colour: red\n": r"c:5: mutant m: expected one of",
            head + "expect: maybe\n@@\n-a\n": r"mutant m: expect: must be rubric or unit, not 'maybe'",
            head + "expect: unit\n@@\n-a\n": r"mutant m: expect: unit needs a note:",
        }
        for text, msg in cases.items():
            with self.subTest(text=text):
                with self.assertRaisesRegex(mutants.CatalogueError, msg):
                    mutants.parse(text, 1, "c")


class ApplyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = kit(self.tmp.name)
        self.solution = self.root / "solution"

    def tearDown(self):
        self.tmp.cleanup()

    def mutant(self, text, lab=1):
        return mutants.parse("mutant m\nfile: vm/f.c\nregion: f\nmistake: x\n" + text, lab, "c")[0]

    def test_only_the_region_body_changes(self):
        (m,) = mutants.parse(CATALOGUE, 1, "c")[:1]
        text = mutants.apply(self.solution, m)
        self.assertEqual(text, SOURCE.replace("\tint y = x * 2;\n", "\tint y = x * 3;\n"))
        src = regions.parse("f.c", text)
        self.assertEqual([r.name for r in src.regions], ["helpers", "f", "g"])
        self.assertEqual(src.region("f").stub, ['lab_todo(1, "f");'])

    def test_edits_apply_in_order_with_context(self):
        m = mutants.parse(CATALOGUE, 1, "c")[1]
        body = "".join(regions.parse("f.c", mutants.apply(self.solution, m)).region("f").body)
        self.assertEqual(body, "\tint y = x * 2;\n\treturn y + 2;\n")

    def test_a_later_edit_sees_the_earlier_ones(self):
        m = self.mutant("@@\n-\treturn y + 1;\n+\treturn y + 5;\n@@\n-\treturn y + 5;\n+\treturn y + 6;\n")
        self.assertIn("\treturn y + 6;\n", mutants.apply(self.solution, m))

    def test_search_must_match_whole_lines_once(self):
        cases = {
            "@@\n-\tint y = x * 4;\n": r"c:1: mutant m: edit 1 \(line 5\) does not apply to region f of "
                                       r"solution/vm/f.c: .* not found",
            "@@\n-int y = x * 2;\n": r"not found",          # not a whole line: the tab is missing
            "@@\n-\tint y\n": r"not found",                  # a prefix of a line is not a line
            "@@\n-\treturn x * 3;\n": r"not found",          # in another region
            "@@\n-#include <x.h>\n": r"not found",           # outside every region
        }
        for text, msg in cases.items():
            with self.subTest(text=text):
                with self.assertRaisesRegex(mutants.CatalogueError, msg):
                    mutants.apply(self.solution, self.mutant(text))

    def test_search_found_twice(self):
        path = self.solution / "vm" / "f.c"
        path.write_text(SOURCE.replace("\treturn y + 1;\n", "\treturn y + 1;\n\treturn y + 1;\n"))
        with self.assertRaisesRegex(mutants.CatalogueError, r"found 2 times \(at body lines 4, 5\)"):
            mutants.apply(self.solution, self.mutant("@@\n-\treturn y + 1;\n"))

    def test_file_and_region_must_be_the_labs(self):
        cases = [("mutant m\nfile: vm/nope.c\nregion: f\nmistake: x\n@@\n-a\n", 1, r"solution/vm/nope.c does not exist"),
                 ("mutant m\nfile: vm/f.c\nregion: h\nmistake: x\n@@\n-a\n", 1,
                  r"has no lab region h \(its lab 01 regions: helpers, f\)"),
                 ("mutant m\nfile: vm/f.c\nregion: g\nmistake: x\n@@\n-a\n", 1, r"region g .* belongs to lab 02")]
        for text, lab, msg in cases:
            with self.subTest(msg=msg):
                (m,) = mutants.parse(text, lab, "c")
                with self.assertRaisesRegex(mutants.CatalogueError, msg):
                    mutants.apply(self.solution, m)
                self.assertEqual(len(mutants.check(self.root, [m])), 1)

    def test_labs_tree_holds_the_labs_files_one_mutated(self):
        m = mutants.parse(CATALOGUE, 1, "c")[0]
        with tempfile.TemporaryDirectory() as into:
            mutants.make_tree(self.root, 1, into, m)
            got = Path(into, "labs", "01-one", "vm", "f.c").read_text()
            self.assertIn("x * 3;", got)
            self.assertEqual(sorted(p.relative_to(into).as_posix() for p in Path(into).rglob("*") if p.is_file()),
                             ["labs/01-one/vm/f.c"])
        with tempfile.TemporaryDirectory() as into:
            mutants.make_tree(self.root, 2, into)
            self.assertEqual(Path(into, "labs", "02-two", "vm", "f.c").read_text(), SOURCE)

    def test_diff_shows_the_region(self):
        m = mutants.parse(CATALOGUE, 1, "c")[0]
        d = mutants.diff(self.solution, m)
        self.assertIn("-\tint y = x * 2;\n+\tint y = x * 3;\n", d)
        self.assertIn("solution/vm/f.c (f)", d)

    def test_load_and_section(self):
        (self.root / "labs" / "01-one" / "mutants").write_text(CATALOGUE)
        ms = mutants.load(self.root, 1)
        self.assertEqual(ms[0].where, "labs/01-one/mutants:2")
        self.assertEqual(mutants.section_of(self.root, ms[0]), "exercise-2")
        self.assertEqual(exercises.sections(self.root / "labs" / "02-two"), {"g": "exercise-1"})
        self.assertEqual(mutants.load(self.root, 2), [])
        self.assertEqual(mutants.labs_with_catalogues(self.root), [1])


class SampleTest(unittest.TestCase):
    def catalogue(self, n):
        return [mutants.Mutant(f"m{i}", 1, "f.c", f"r{i % 3}", "x") for i in range(n)]

    def test_deterministic_spread_and_in_catalogue_order(self):
        ms = self.catalogue(12)
        section = lambda m: m.region   # noqa: E731
        a = mutants.sample(ms, 3, "s", section)
        self.assertEqual(a, mutants.sample(ms, 3, "s", section))                       # the same every time
        self.assertEqual({m.name for m in a}, {m.name for m in mutants.sample(ms[::-1], 3, "s", section)})
        self.assertEqual(len({m.region for m in a}), 3)          # one per exercise first
        self.assertEqual(a, sorted(a, key=ms.index))
        self.assertNotEqual([m.name for m in a], [m.name for m in mutants.sample(ms, 3, "other seed", section)])

    def test_more_than_there_are(self):
        ms = self.catalogue(2)
        self.assertEqual(mutants.sample(ms, 5), ms)
        self.assertEqual(len(mutants.sample(self.catalogue(9), 5, "s", lambda m: m.region)), 5)


class OutcomeTest(unittest.TestCase):
    def test_result_section_prefers_the_derived_field(self):
        t = Test("t", 10, "x.bin", section="exercise-3")
        self.assertEqual(mutants.result_section(runner.Result(t, "FAIL", "why")), "exercise-3")
        r = runner.Result(t, "FAIL", "why")
        r.section = "exercise-5"
        self.assertEqual(mutants.result_section(r), "exercise-5")

    def test_summary_and_json(self):
        def o(name, caught, named, unit, error=""):
            x = mutants.Outcome(name, 1, "f.c", "f", "x", "exercise-2", score=0 if caught else 100, max_score=100,
                                caught=caught, named=named, unit=unit, error=error)
            if caught:
                x.failed = [{"test": "t", "verdict": "FAIL", "reason": "r", "section": "exercise-2" if named else None}]
            return x
        outs = [o("a", True, True, "caught"), o("b", True, False, "missed"), o("c", False, False, "caught"),
                o("d", False, None, "not run", error="does not build")]
        with tempfile.TemporaryDirectory() as tmp:
            root = kit(tmp)
            s = mutants.summarise(root, 1, outs, (True, "100/100"))
        self.assertEqual((s.mutants, s.errors, s.caught, s.named, s.unit_caught, s.unit_run), (4, 1, 2, 1, 2, 3))
        self.assertAlmostEqual(s.rubric_pct, 200 / 3)
        self.assertIn("01-one", mutants.table([s]))
        doc = json.loads(mutants.to_json([s], outs, {"command": "x"}))
        lab = doc["labs"][0]
        self.assertEqual(lab["survivors"], ["c"])
        self.assertEqual(lab["outcomes"][0]["named_sections"], ["exercise-2"])
        self.assertIn("MISSED", mutants.outcome_line(outs[2]))
        self.assertIn("ERROR", mutants.outcome_line(outs[3]))


class KitCataloguesTest(unittest.TestCase):
    def test_every_catalogue_applies_to_the_solution(self):
        for lab in mutants.labs_with_catalogues(ROOT):
            with self.subTest(lab=lab):
                ms = mutants.load(ROOT, lab)
                # Enough mistakes to judge a rubric by; few enough that 'make mutants' stays minutes a lab.
                self.assertTrue(15 <= len(ms) <= 30, f"lab {lab:02d} has {len(ms)} mutants")
                self.assertEqual(mutants.check(ROOT, ms), [])
                self.assertEqual([m.name for m in ms if mutants.section_of(ROOT, m) is None], [])


if __name__ == "__main__":
    unittest.main()
