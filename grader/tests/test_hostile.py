"""Hostile submissions: what a batch of other people's code may try, graded as an
instructor grades it (grader/grade batch, sandboxed), each case checked for its
verdict, for nothing changed outside its sandbox (the kit and every other
submission hashed before and after), and for the other submissions' scores.

The batch runs on a private copy of the kit (its tracked files and its built
guest images), so the hashes see only what the batch did. Lab 01 submissions:
they run on Linux KVM in a fraction of a second each. Needs root (the sandbox's
own uids), bubblewrap and a usable /dev/kvm; skipped otherwise, saying which.
"""
import csv
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "grader"))
from lib import grading, hostcaps, labs, sandbox  # noqa: E402

LAB = 1
VM_C = Path("vmm", "vm.c")
SECRET = "kvmlabs-host-secret-7d1c"          # in a host file no sandbox binds
OTHER = "kvmlabs-other-student-e42b"         # in another student's lab file
SLEEP = "67.25"                              # the forked children's sleep, to find them by
BATCH_SECONDS = 240                          # the whole batch, every case, well past what it takes


def tree_hash(top, skip=()):
    """One hash over every path, type, mode and content under top (links not followed)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and d != "__pycache__")
        for name in sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]):
            path = Path(dirpath, name)
            st = path.lstat()
            h.update(f"{path.relative_to(top)}\0{st.st_mode:o}\0".encode())
            if path.is_symlink():
                h.update(os.readlink(path).encode())
            elif path.is_file():
                h.update(path.read_bytes())
    return h.hexdigest()


def sleepers():
    """Processes left by the fork case (their command line carries SLEEP)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if SLEEP.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def unusable():
    if os.geteuid() != 0:
        return "the sandbox's own uids need root"
    if sandbox.problem():
        return sandbox.problem()
    ok, why = hostcaps.kvm_usable()
    if not ok:
        return why
    return None


@unittest.skipIf(unusable(), f"hostile submissions: {unusable()}")
class HostileBatch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="kvmlabs-hostile-"))
        os.chmod(cls.tmp, 0o755)        # the sandbox's uids reach the kit copy through it
        cls.kit = cls.copy_kit(cls.tmp / "kit")
        cls.subs = cls.tmp / "subs"
        cls.secret = cls.tmp / "secret.txt"
        cls.secret.write_text(SECRET + "\n")
        os.chmod(cls.secret, 0o644)     # readable by anyone on the host: only the sandbox keeps it out
        cls.labdir = labs.lab_dir(cls.kit, LAB)
        cls.out = cls.kit / "build" / f"batch-{LAB:02d}"
        cls.make_submissions()
        kit_before = tree_hash(cls.kit, skip=("build",))
        other_before = tree_hash(cls.subs / "other")
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, cls.kit / "grader" / "grade", "batch", cls.subs, "--lab", f"{LAB:02d}",
                            "-j", "2"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=BATCH_SECONDS)
        cls.seconds = time.monotonic() - t0
        cls.output = p.stdout.decode("utf-8", "replace")
        cls.returncode = p.returncode
        cls.peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >> 10
        time.sleep(3)                   # past the escape case's delayed writer, had it survived
        cls.kit_changed = kit_before != tree_hash(cls.kit, skip=("build",))
        cls.other_changed = other_before != tree_hash(cls.subs / "other")
        cls.left = sleepers()
        with open(cls.out / "summary.csv", newline="") as f:
            cls.rows = {r["submission"]: r for r in csv.DictReader(f)}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def copy_kit(cls, kit):
        files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], stdout=subprocess.PIPE, check=True).stdout
        for rel in filter(None, files.decode().split("\0")):
            src = ROOT / rel
            if src.is_file() and not src.is_symlink():
                (kit / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, kit / rel)
        for rel in ("grader/lib/sandbox.py", "grader/tests/test_hostile.py"):   # before they are committed
            shutil.copy2(ROOT / rel, kit / rel)
        guests = grading.build_guests(ROOT)   # the kit's own images; the copy finds them up to date
        shutil.copytree(guests, kit / "build" / "guests", copy_function=shutil.copy2)
        for dirpath, dirnames, _ in os.walk(kit):
            os.chmod(dirpath, 0o755)
        return kit

    @classmethod
    def submission(cls, name, solved=True):
        """labs/ of a submission: the kit's skeleton, or with the solution's lab 01 files."""
        dst = cls.subs / name / "labs" / cls.labdir.name
        shutil.copytree(cls.labdir, dst)
        if solved:
            for rel in (VM_C, Path("vmm", "run.c")):
                shutil.copyfile(cls.kit / "solution" / rel, dst / rel)
        return dst

    @classmethod
    def inject(cls, labfile, region, code):
        """Put C lines at the start of a region's body."""
        text = labfile.read_text()
        marker = f"// @lab {LAB:02d} {region}:"
        at = text.index("\n", text.index(marker)) + 1
        labfile.write_text(text[:at] + code + "\n" + text[at:])

    @classmethod
    def shell(cls, labfile, script):
        cls.inject(labfile, "vmm_open_kvm",
                   "\t{ extern int system(const char *); (void)system(" + c_string(script) + "); }")

    @classmethod
    def make_submissions(cls):
        kit, subs = cls.kit, cls.subs
        lab_rel = Path("labs", cls.labdir.name)
        # The one every hostile case aims at: a solved lab, full marks, a marked line.
        other = cls.submission("other")
        cls.inject(other / VM_C, "vm_helpers", f"/* {OTHER} */")
        other_results = cls.out / "other" / "results.json"

        # Writes outside: the grader's code, the kit's solution, another student's
        # file and results, and (from a child left behind) its own score, later.
        own = cls.out / "escape" / "results.json"
        cls.shell(cls.submission("escape", solved=False) / VM_C, "\n".join([
            "exec 2>/dev/null",
            f"echo 'print(\"owned\")' >> {kit}/grader/grade",
            f"echo '/* owned */' >> {kit}/solution/{VM_C}",
            f"echo '/* owned */' >> {subs}/other/{lab_rel}/{VM_C}",
            f"echo '{{\"score\": 0}}' > {other_results}",
            f"(sleep 2; echo '{{\"score\": 100}}' > {own}) &"]))

        # Reads: a host file and another student's code, printed into its transcript,
        # last, so the transcript tail a results.json shows would hold them.
        cls.shell(cls.submission("reads", solved=False) / VM_C,
                  f"head -1 /etc/shadow; grep {OTHER} {subs}/other/{lab_rel}/{VM_C}; cat {cls.secret}")

        # Children that outlive the test, holding its output open.
        cls.shell(cls.submission("forks") / VM_C, f"i=0; while [ $i -lt 350 ]; do sleep {SLEEP} & i=$((i+1)); done")

        # Output without end (1.7 GB in the finding): the run's file-size limit ends it.
        cls.inject(cls.submission("flood") / VM_C, "vm_create",
                   "\t{ static char b[1 << 16]; memset(b, 'x', sizeof b); for (;;) fwrite(b, 1, sizeof b, stdout); }")

        # A compiler message that is not UTF-8.
        cls.inject(cls.submission("bad-bytes", solved=False) / VM_C, "vm_helpers",
                   '#pragma message "\\377\\376"\n#error "kvmlabs-bad-byte \\377"')

        # Lab files that are no regular files: a link to /dev/zero, a FIFO.
        (cls.submission("devzero") / VM_C).unlink()
        (subs / "devzero" / lab_rel / VM_C).symlink_to("/dev/zero")
        (cls.submission("fifo") / VM_C).unlink()
        os.mkfifo(subs / "fifo" / lab_rel / VM_C)

        # #include of the grader's stdin and of a host file.
        cls.inject(cls.submission("include-stdin") / VM_C, "vm_helpers", '#include "/dev/stdin"')
        cls.inject(cls.submission("include-host") / VM_C, "vm_helpers", f'#include "{cls.secret}"')

        # A VMM that prints a passing report without running the guest.
        cls.inject(cls.submission("spoof", solved=False) / VM_C, "vmm_open_kvm", "\t{ extern void exit(int); "
                   'printf("kvmlabs: begin real-hello\\nok entry-ip\\nkvmlabs: end passed=1 failed=0 skipped=0 '
                   'mac=' + "0" * 64 + '\\n"); fflush(stdout); exit(1); }')

        # A submission that is a link to another one.
        (subs / "linked").symlink_to(subs / "other")

    # -- what every case shares ------------------------------------------------

    def results(self, name):
        path = self.out / name / "results.json"
        self.assertLess(path.stat().st_size, 256 << 10, f"{name}'s results.json is not bounded")
        return json.loads(path.read_text())

    def outside_unchanged(self, name):
        """The batch finished in time with its summary; the kit and the other
        submission are as they were; the other submission kept its full score."""
        self.assertEqual(self.returncode, 0, self.output[-3000:])
        self.assertLess(self.seconds, BATCH_SECONDS)
        self.assertFalse(self.kit_changed, f"{name}: the kit tree changed during the batch")
        self.assertFalse(self.other_changed, f"{name}: another submission's files changed during the batch")
        self.assertEqual(self.rows["other"]["score"], "100", self.output[-3000:])
        self.assertEqual(self.results("other")["score"], 100)
        self.assertIn(name, self.rows, self.output[-3000:])

    def score(self, name):
        return int(self.rows[name]["score"])

    # -- one case per finding --------------------------------------------------

    def test_escape_writes_nothing_outside(self):
        self.outside_unchanged("escape")
        self.assertEqual(self.score("escape"), 0)
        self.assertEqual(self.results("escape")["score"], 0, "the child it left rewrote its score")
        self.assertNotIn("owned", (self.kit / "grader" / "grade").read_text())

    def test_reads_no_host_file_and_no_other_code(self):
        self.outside_unchanged("reads")
        self.assertEqual(self.score("reads"), 0)
        text = (self.out / "reads" / "results.json").read_text()
        self.assertIn("not implemented", text)      # its transcript was kept, and holds neither
        self.assertNotIn(SECRET, text)
        self.assertNotIn(OTHER, text)
        self.assertNotIn("root:", text)              # /etc/shadow's first field

    def test_forked_children_end_with_their_test(self):
        self.outside_unchanged("forks")
        self.assertEqual(self.score("forks"), 100, self.rows["forks"])
        self.assertEqual(self.left, [], "processes forked by a test outlived it")

    def test_huge_output_is_cut_and_named(self):
        self.outside_unchanged("flood")
        self.assertEqual(self.score("flood"), 0)
        runs = [t for t in self.results("flood")["tests"] if "answers" not in t.get("tags", [])]
        self.assertTrue(runs and all("printed 64 MiB or more and was ended" in t["output"] for t in runs),
                        runs[0]["output"][:300])
        self.assertLess(self.peak_rss_mib, 600, "a process of the batch grew with the output")

    def test_non_utf8_compiler_message(self):
        self.outside_unchanged("bad-bytes")
        self.assertEqual(self.score("bad-bytes"), 0)
        self.assertEqual(self.rows["bad-bytes"]["built"], "no")
        error = self.rows["bad-bytes"]["build_error"]
        self.assertIn("#pragma message: \ufffd\ufffd", error)     # the two bytes, replaced
        self.assertIn('error: #error "kvmlabs-bad-byte', error)

    def test_lab_file_linked_to_dev_zero(self):
        self.outside_unchanged("devzero")
        self.assertEqual(self.score("devzero"), 0)
        self.assertIn("vm.c is a symbolic link", self.rows["devzero"]["build_error"])

    def test_lab_file_fifo(self):
        self.outside_unchanged("fifo")
        self.assertEqual(self.score("fifo"), 0)
        self.assertIn("vm.c is not a regular file", self.rows["fifo"]["build_error"])

    def test_include_dev_stdin(self):
        # In the sandbox stdin is /dev/null: the include is empty and the build ends.
        self.outside_unchanged("include-stdin")
        self.assertEqual(self.score("include-stdin"), 100, self.rows["include-stdin"])

    def test_include_host_file(self):
        self.outside_unchanged("include-host")
        self.assertEqual(self.score("include-host"), 0)
        self.assertIn("No such file or directory", self.rows["include-host"]["build_error"])
        self.assertNotIn(SECRET, (self.out / "include-host" / "results.json").read_text())

    @unittest.skipUnless((ROOT / "grader" / "lib" / "mac.py").exists(), "the report MAC (lib/mac.py) is not here")
    def test_spoofed_report_scores_zero_naming_the_mac(self):
        self.outside_unchanged("spoof")
        self.assertEqual(self.score("spoof"), 0)
        reasons = [t["output"] for t in self.results("spoof")["tests"] if t.get("name") == "hello"]
        self.assertTrue(reasons and "bad MAC" in reasons[0], reasons)

    def test_linked_submission(self):
        self.outside_unchanged("linked")
        self.assertEqual(self.score("linked"), 0)
        self.assertIn("not a directory", self.rows["linked"]["build_error"])

    def test_throughput_reported(self):
        self.assertRegex(self.output, r"throughput: 12 submissions in [\d.]+ s \([\d.]+ submissions/min")


@unittest.skipIf(unusable(), f"hostile submissions: {unusable()}")
class SandboxTest(unittest.TestCase):
    """What lib/sandbox.py promises, seen from inside."""

    def inside(self, script, **kw):
        with sandbox.own_uid() as uid:
            p = subprocess.run(sandbox.wrap(["sh", "-c", script], force=True, **kw), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                               **sandbox.identity(uid, kvm=kw.get("kvm", False)))
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_what_the_code_inside_sees(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            rw, ro = Path(tmp, "rw"), Path(tmp, "ro")
            rw.mkdir()
            ro.mkdir()
            os.chmod(rw, 0o777)
            (ro / "f").write_text("kept")
            rc, out = self.inside(
                f"id -u; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; "
                f"echo x > {rw}/new && echo rw-ok; echo x > {ro}/f || echo ro-refused; "
                f"ls /etc/shadow /root {ROOT} 2>&1 | head -3; cat /dev/stdin | wc -c; ls /dev/kvm 2>&1",
                writable=[rw], readonly=[ro])
        lines = out.splitlines()
        self.assertNotEqual(lines[0], "0", out)                  # not root
        self.assertEqual(lines[1], "lo", out)                    # no network but loopback
        self.assertIn("rw-ok", out)
        self.assertIn("ro-refused", out)
        self.assertEqual(out.count("No such file or directory"), 4, out)   # shadow, /root, the kit, /dev/kvm
        self.assertIn("\n0\n", out)                              # stdin is empty

    def test_limits(self):
        rc, out = self.inside("ulimit -t; ulimit -f; ulimit -n; ulimit -p; ulimit -v; "
                              "head -c 80000000 /dev/zero > /tmp/big; echo status $?", limits=sandbox.RUN)
        cpu, fsize, nofile, nproc, memory = out.splitlines()[:5]
        self.assertEqual(int(cpu), sandbox.RUN.cpu_seconds)
        self.assertEqual(int(fsize) * 512, sandbox.RUN.file_bytes)      # dash counts 512-byte blocks
        self.assertEqual(int(nofile), sandbox.RUN.open_files)
        self.assertEqual(int(nproc), sandbox.RUN.processes)
        self.assertEqual(int(memory) * 1024, sandbox.RUN.memory_bytes)
        self.assertNotIn("status 0", out)                         # 80 MB is past the file-size limit

    def test_no_process_outlives_the_sandbox(self):
        t0 = time.monotonic()
        rc, out = self.inside(f"sleep {SLEEP} & sleep {SLEEP} & echo started")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn("started", out)
        time.sleep(0.5)
        self.assertEqual(sleepers(), [])


@unittest.skipIf(unusable(), f"hostile submissions: {unusable()}")
class BatchSurvives(unittest.TestCase):
    def test_grader_exception_is_the_submissions_verdict(self):
        loader = importlib.machinery.SourceFileLoader("grade_cli", str(ROOT / "grader" / "grade"))
        spec = importlib.util.spec_from_loader("grade_cli", loader)
        grade = importlib.util.module_from_spec(spec)
        loader.exec_module(grade)
        with tempfile.TemporaryDirectory() as tmp:
            sub = Path(tmp, "subs", "one")
            sub.mkdir(parents=True)
            args = mock.Mock(lab=LAB)
            tests = grading.rubric_tests(ROOT, LAB)
            with mock.patch.object(grading, "grade_lab", side_effect=ZeroDivisionError("boom")):
                g = grade.grade_submission(sub, args, Path(tmp, "out"), None, tests)
            self.assertEqual(g.score, 0)
            self.assertIn("the grader failed on this submission: ZeroDivisionError: boom", g.build_error)
            doc = json.loads(Path(tmp, "out", "one", "results.json").read_text())
            self.assertEqual(doc["score"], 0)

    def test_two_graders_on_one_stage_take_turns(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            out = Path(tmp, "lab-01")
            guests = grading.build_guests(ROOT)
            grades = []

            def one():
                grades.append(grading.grade_lab(ROOT, LAB, "solution", out=out, guests=guests))

            threads = [threading.Thread(target=one) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            self.assertEqual([g.score for g in grades], [100, 100], [g.build_error for g in grades])


if __name__ == "__main__":
    unittest.main()
