"""The guest's report MAC (lib/mac.py, grader/guests/rt/mac.c): a VMM cannot fake
a passing transcript.

- mac.py on its own: the key slot in every image format, the private per-run
  copy, verification against Python's hmac (RFC 4231 too);
- the guests' own HMAC-SHA256: images of every kind (16-bit real mode, 32-bit,
  multiboot, 64-bit, SMP) given a known key print the MAC Python computes over
  the lines they printed;
- spoofing: a VMM that prints a plausible transcript of 'ok' lines and exits
  with the pass status, graded through grading.grade_stage, scores 0 with the
  MAC verdict; so do one that replays a real transcript and one that edits a
  real run's lines; a VMM that runs the guest honestly passes.

The guest and grading cases need the kit's build (build/guests, the solution's
VMM) and a usable /dev/kvm; without them they are skipped with the reason.
"""
import hashlib
import hmac
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import grading, hostcaps, labs, mac, rubric, runner, status  # noqa: E402
from lib.stage import Stage  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GUESTS = ROOT / "build" / "guests"
VMM = ROOT / "build" / "solution" / "vmm"
PASSED = status.GUEST_PASSED
KEY = bytes(range(1, 33))
REASON = "the guest's report does not verify ({}): the lines did not come from the guest"


def signed(lines, key, extra=()):
    """A transcript of report lines whose end line carries the MAC Python's hmac
    computes (independently of mac.compute), with other lines mixed in."""
    body = "\n".join(lines).encode()
    tag = hmac.new(key, body, hashlib.sha256).hexdigest()
    out = list(extra[:1]) + lines[:-1] + list(extra[1:]) + [f"{lines[-1]} mac={tag}"]
    return "\n".join(out) + "\n"


LINES = ["kvmlabs: begin g", "ok a", "skip s: no irqchip", "ok b", "kvmlabs: end passed=2 failed=0 skipped=1"]


class MacUnitTest(unittest.TestCase):
    def test_rfc4231_case_2(self):
        # HMAC-SHA-256 test case 2 of RFC 4231: key "Jefe" (HMAC pads a short key
        # with zeros, as the guest's 32-byte slot does), data "what do ya want for nothing?".
        self.assertEqual(mac.compute(b"Jefe" + bytes(28), ["what do ya want for nothing?"]),
                         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")

    def test_canonical_form_is_lines_joined_by_newline(self):
        self.assertEqual(mac.canonical(["a", "b", "c"]), b"a\nb\nc")
        self.assertEqual(mac.compute(KEY, ["a", "b"]), hmac.new(KEY, b"a\nb", hashlib.sha256).hexdigest())

    def test_verify_picks_the_guests_lines(self):
        t = signed(LINES, KEY, extra=("vmm: loading g", "cpu 1 up", "vmm: dirty: 0"))
        self.assertEqual(mac.report_lines(t)[0], LINES)
        self.assertIsNone(mac.verify(t, KEY))
        self.assertIsNone(mac.verify(t.replace("\n", "\r\n"), KEY))   # a serial console's line ends

    def test_verify_rejects(self):
        good = signed(LINES, KEY)
        self.assertEqual(mac.verify(good, bytes(32)), REASON.format("bad MAC"))       # another key
        self.assertEqual(mac.verify(good.replace("ok b", "ok c"), KEY), REASON.format("bad MAC"))
        self.assertEqual(mac.verify(good.replace("ok a\n", ""), KEY), REASON.format("bad MAC"))
        self.assertEqual(mac.verify(good.replace("kvmlabs: begin g\n", "ok z\nkvmlabs: begin g\n"), KEY),
                         REASON.format("bad MAC"))
        self.assertEqual(mac.verify("\n".join(LINES) + "\n", KEY), REASON.format("no MAC"))
        self.assertEqual(mac.verify(good.replace(" mac=", " mac=x"), KEY), REASON.format("no MAC"))
        self.assertIsNone(mac.verify("\n".join(LINES), None))    # no slot, nothing to verify

    def test_slot_in_every_image_format(self):
        # The marker is found in the raw bytes, wherever a format puts it.
        for head in (b"\x7fELF\x01" + bytes(300), b"\x7fELF\x02" + bytes(700), b"\xfa\x31\xc0" + bytes(50)):
            data = head + mac.MAGIC + bytes(32) + b"tail"
            at = mac.find_slot(data)
            self.assertEqual(at, len(head) + len(mac.MAGIC))
            out = mac.write_key(data, KEY)
            self.assertEqual(out[at:at + 32], KEY)
            self.assertEqual(out[:at] + bytes(32) + out[at + 32:], data)
        self.assertIsNone(mac.find_slot(b"\x90" * 64))
        with self.assertRaisesRegex(mac.SlotError, "more than once"):
            mac.find_slot(mac.MAGIC + bytes(32) + mac.MAGIC + bytes(32))
        with self.assertRaisesRegex(mac.SlotError, "cut short"):
            mac.find_slot(b"x" + mac.MAGIC + bytes(5))

    def test_prepare_makes_a_private_read_only_copy_per_run(self):
        with tempfile.TemporaryDirectory() as d:
            image = Path(d, "g.elf")
            data = b"\x7fELF" + bytes(100) + mac.MAGIC + bytes(32) + b"rest"
            image.write_bytes(data)
            copies = [mac.prepare(image, Path(d, "runs")) for _ in range(3)]
            keys = {k for _, k in copies}
            self.assertEqual(len(keys), 3, "each run gets a fresh key")
            self.assertEqual(len({c.parent for c, _ in copies}), 3, "each run gets its own directory")
            for copy, key in copies:
                self.assertEqual(copy.name, "g.elf")
                self.assertEqual(copy.read_bytes(), mac.write_key(data, key))
                self.assertEqual(stat.S_IMODE(copy.stat().st_mode), 0o444)
            self.assertEqual(image.read_bytes(), data, "the shared image keeps its zero key")
            mac.release(copies[0][0])
            self.assertFalse(copies[0][0].parent.exists())
            self.assertTrue(copies[1][0].exists())
            plain = Path(d, "bad-loop.bin")
            plain.write_bytes(b"\xeb\xfe")
            copy, key = mac.prepare(plain, Path(d, "runs"))
            self.assertIsNone(key)
            self.assertEqual(copy.read_bytes(), b"\xeb\xfe")


class JudgeTest(unittest.TestCase):
    test = rubric.Test("t", 10, "g", "pass")

    def judge(self, text, key):
        return runner.judge(self.test, PASSED, mac.Transcript(text, key))

    def test_verdicts(self):
        good = signed(LINES, KEY)
        self.assertEqual(self.judge(good, KEY), ("PASS", ""))
        self.assertEqual(self.judge(good, os.urandom(32)), ("FAIL", REASON.format("bad MAC")))
        self.assertEqual(self.judge("\n".join(LINES) + "\n", KEY), ("FAIL", REASON.format("no MAC")))
        # A failed check stays the reason: the MAC only guards a pass.
        v, why = self.judge(good.replace("ok b", "not ok b: 1 != 2"), KEY)
        self.assertEqual((v, why), ("FAIL", "guest check failed: b: 1 != 2"))
        # The key can be given outright too, and no key means nothing to verify.
        self.assertEqual(runner.judge(self.test, PASSED, good, key=KEY), ("PASS", ""))
        self.assertEqual(runner.judge(self.test, PASSED, "\n".join(LINES) + "\n"), ("PASS", ""))

    def test_differential_ignores_the_mac(self):
        a, b = signed(LINES, KEY), signed(LINES, bytes(32))
        self.assertNotEqual(a, b)
        self.assertEqual(runner.differential((PASSED, a), (PASSED, b)), "")


# Reads the key (32 bytes) and the message from stdin, prints the runtime's HMAC in hex.
DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "mac.h"
int main(void)
{
	static unsigned char msg[4096];
	uint8_t out[MAC_BYTES];
	if (fread(rt_mac_key_slot.key, 1, MAC_KEY_BYTES, stdin) != MAC_KEY_BYTES)
		return 2;
	size_t n = fread(msg, 1, sizeof(msg), stdin);
	mac_begin();
	for (size_t i = 0; i < n; i++)
		mac_byte(msg[i]);
	mac_finish(out);
	for (int i = 0; i < MAC_BYTES; i++)
		printf("%02x", out[i]);
	return 0;
}
"""


@unittest.skipUnless(shutil.which("gcc"), "no gcc")
class RuntimeHmacTest(unittest.TestCase):
    """The runtime's C HMAC-SHA256 built for the host, at every length around the
    SHA-256 padding boundaries (55/56/64 bytes and their multiples), where a
    guest's report of the wrong length would otherwise fail only now and then."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="kvmlabs-mac-")
        rt = ROOT / "grader" / "guests" / "rt"
        Path(cls.dir, "driver.c").write_text(DRIVER)
        cls.exe = Path(cls.dir, "hmac")
        flags = ["-O2", "-Wall", "-Wextra", "-Werror", f"-I{rt}", f"-I{ROOT / 'solution' / 'include'}"]
        subprocess.run(["gcc", *flags, "-ffreestanding", "-mgeneral-regs-only", "-c", str(rt / "mac.c"),
                        "-o", str(Path(cls.dir, "mac.o"))], check=True)
        subprocess.run(["gcc", *flags, str(Path(cls.dir, "driver.c")), str(Path(cls.dir, "mac.o")),
                        "-o", str(cls.exe)], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_every_length_matches_python(self):
        for n in list(range(0, 140)) + [183, 184, 191, 192, 200, 1000, 4000]:
            msg = bytes((i * 7 + n) % 256 for i in range(n))
            key = os.urandom(32)
            got = subprocess.run([str(self.exe)], input=key + msg, stdout=subprocess.PIPE, check=True).stdout
            self.assertEqual(got.decode(), hmac.new(key, msg, hashlib.sha256).hexdigest(), f"{n} bytes")


def kit_missing():
    if not VMM.exists() or not (GUESTS / "real-hello.bin").exists():
        return "the kit is not built (make vmm guests)"
    ok, why = hostcaps.kvm_usable()
    return None if ok else f"no usable /dev/kvm: {why}"


# (image, VMM options): every runtime build (-m16, -m32, multiboot, -m64) and an SMP guest.
IMAGES = [("real-hello.bin", []), ("real-arith.bin", []), ("prot-hello.elf", []), ("mb-hello.elf", []),
          ("long-hello.elf", []), ("prot-smp.elf", ["--cpus=2"])]


@unittest.skipIf(kit_missing(), kit_missing())
class GuestMacTest(unittest.TestCase):
    def run_image(self, image, opts, key):
        with tempfile.TemporaryDirectory() as d:
            copy = Path(d, image)
            copy.write_bytes(mac.write_key((GUESTS / image).read_bytes(), key))
            p = subprocess.run([str(VMM), "run", "--timeout=20", *opts, str(copy)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, text=True)
        self.assertEqual(p.returncode, PASSED, p.stdout[-2000:])
        return p.stdout

    def test_guest_hmac_matches_python(self):
        for image, opts in IMAGES:
            with self.subTest(image=image):
                lines, tag = mac.report_lines(self.run_image(image, opts, KEY))
                self.assertTrue(lines[0].startswith("kvmlabs: begin ") and tag, lines)
                self.assertEqual(tag, hmac.new(KEY, "\n".join(lines).encode(), hashlib.sha256).hexdigest())

    def test_the_key_is_read_at_run_time(self):
        # Not folded by the compiler from the zeros it was built with: a key
        # differing in its last byte gives another MAC.
        other = KEY[:-1] + b"\xff"
        a = mac.report_lines(self.run_image("real-hello.bin", [], KEY))[1]
        b = mac.report_lines(self.run_image("real-hello.bin", [], other))
        self.assertNotEqual(a, b[1])
        self.assertEqual(b[1], mac.compute(other, b[0]))


class FakeStage(Stage):
    """A stage whose VMM is whatever the test puts at out/vmm: nothing is built."""

    def build(self):
        return True, ""


FAKE_VMM = """#!/bin/sh
# Prints what a passing guest prints and exits with the pass status: never runs it.
echo "kvmlabs: begin real-hello"
for c in one two three; do echo "ok $c"; done
echo "kvmlabs: end passed=3 failed=0 skipped=0{mac}"
echo "vmm: guest exit through port 0xf4 with value 0 (exit status {status})"
exit {status}
"""

# Runs the real VMM, then rewrites its transcript with sed.
EDITING_VMM = """#!/bin/sh
out=$(mktemp)
{vmm} "$@" > "$out" 2>&1
s=$?
sed '{script}' "$out"
rm -f "$out"
exit $s
"""


@unittest.skipIf(kit_missing(), kit_missing())
class SpoofingTest(unittest.TestCase):
    """Graded the way 'make grade' grades: grading.grade_stage, lab 01's rubric."""

    def grade(self, vmm_text):
        d = Path(tempfile.mkdtemp(prefix="kvmlabs-mac-"))
        d.chmod(0o755)          # the runs' sandbox uid must reach the stage
        self.addCleanup(shutil.rmtree, d, True)
        stage = FakeStage(ROOT, 1, "solution", out=d / "stage")
        stage.out.mkdir()
        shutil.copy2(VMM, stage.out / "real-vmm")   # what EDITING_VMM runs: inside the run's sandbox
        stage.vmm.write_text(vmm_text)
        stage.vmm.chmod(0o755)
        g = grading.grade_stage(ROOT, stage, 1, jobs=2, guests=GUESTS)
        self.assertFalse(list((stage.out / "runs").iterdir()), "every run's image copy is removed")
        return g

    def pass_tests(self, g):
        """The results of tests whose guest must pass, run by the (fake) VMM on Linux KVM."""
        return [r for r in g.results
                if r.test.expected_status() == PASSED and labs.platform_of(1, r.test) == "linux-kvm"]

    def assert_zero_with_mac_verdict(self, g, why):
        self.assertEqual(sum(r.score for r in g.results), 0, [(r.test.name, r.verdict) for r in g.results])
        for r in self.pass_tests(g):
            self.assertEqual((r.verdict, r.reason), ("FAIL", REASON.format(why)), r.test.name)

    def test_fake_transcript_scores_zero(self):
        g = self.grade(FAKE_VMM.format(mac="", status=PASSED))
        self.assertGreaterEqual(len(self.pass_tests(g)), 5)
        self.assert_zero_with_mac_verdict(g, "no MAC")

    def test_fake_transcript_with_a_made_up_mac_scores_zero(self):
        g = self.grade(FAKE_VMM.format(mac=" mac=" + "5a" * 32, status=PASSED))
        self.assert_zero_with_mac_verdict(g, "bad MAC")

    def test_replayed_real_transcript_scores_zero(self):
        # A transcript the guest really printed, under an earlier run's key.
        text = subprocess.run([str(VMM), "run", "--timeout=20", str(GUESTS / "real-hello.bin")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60).stdout
        self.assertIsNotNone(mac.report_lines(text)[1])
        g = self.grade("#!/bin/sh\ncat <<'EOF'\n" + text + "EOF\nexit %d\n" % PASSED)
        self.assert_zero_with_mac_verdict(g, "bad MAC")

    def test_edited_real_run_fails_and_honest_run_passes(self):
        honest = self.grade(EDITING_VMM.format(vmm='"$(dirname "$0")/real-vmm"', script="p;d"))
        self.assertEqual([(r.test.name, r.verdict, r.reason) for r in self.pass_tests(honest)
                          if r.verdict != "PASS"], [])
        # The real guest's run with one of its report lines changed.
        edited = self.grade(EDITING_VMM.format(vmm='"$(dirname "$0")/real-vmm"', script="s/^ok \\(.*\\)$/ok \\1-renamed/"))
        for r in self.pass_tests(edited):
            self.assertEqual((r.verdict, r.reason), ("FAIL", REASON.format("bad MAC")), r.test.name)


if __name__ == "__main__":
    unittest.main()
