"""Running one rubric test on a platform and judging what the guest reported."""
import dataclasses
import difflib
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import mac, sandbox, status as vmm_status, vmx
from .rubric import Test
from .stage import Stage

END = re.compile(r"^kvmlabs: end passed=(\d+) failed=(\d+) skipped=(\d+)(?: mac=[0-9a-f]{64})?\s*$")
TODO = re.compile(r"lab (\d+): (\w+)\(\) not implemented")
REPORT = re.compile(r"^(ok |not ok |skip |kvmlabs: )")
RUNNER_TIMEOUT, RUNNER_BROKEN = 124, 125   # grader/baremetal/run's own statuses (STATUS_TIMEOUT, STATUS_EMULATOR)
# A run's output kept in memory (its first and last halves): a guest's report is a
# few KiB; a VMM may print without end. What a run may write at all is the
# sandbox's file-size limit (sandbox.RUN): past it the writer is ended.
OUTPUT_KEPT = 1 << 20
# Seconds past a run's own timeout (the VMM's --timeout, the runner's) before the
# grader ends it: its own limit should have fired first.
KILL_GRACE = 15


@dataclass
class Result:
    test: Test
    verdict: str                 # PASS FAIL TIMEOUT CRASH SKIP
    reason: str
    transcript: str = ""
    elapsed: float = 0.0
    status: int | None = None
    notes: list = field(default_factory=list)
    # Where a failure points (lib/pointer.py); set for FAIL, TIMEOUT and CRASH.
    section: str | None = None   # the handout section to read: "exercise-N" (else the rubric's section=)
    exercise: str | None = None  # the @lab region (function) the failure points at, when known
    handout: str | None = None   # the lab directory whose README.md holds the section: "labs/04-vmx"
    pointed_by: str | None = None  # which rule chose them: stub, vmentry, diagnose or rubric
    diagnosis: str | None = None  # a sentence naming the cause (lib/diagnose.py), when it knows one
    rerun: str | None = None     # the command that reproduces the run: "make run LAB=04 GUEST=... ARGS='...'"

    @property
    def score(self):
        return self.test.points if self.verdict == "PASS" else 0


@dataclass
class Platform:
    """How to run a guest: the hosted VMM on Linux KVM, or the bare-metal host on minikvm."""
    name: str                    # "linux-kvm" or "minikvm"
    stage: Stage
    guests: Path
    root: Path

    def command(self, test, timeout, image=None, disk=None):
        # "{guests}" in a rubric's VMM options is the directory of the guest images, for files
        # a guest is given besides its image (--initrd={guests}/kut-env.txt).
        # image: the run's own copy of the guest image (mac.prepare), else the shared one.
        args = [a.replace("{guests}", str(self.guests)) for a in test.args]
        image = Path(image or Path(self.guests, test.guest))
        if disk:
            args = [f"--disk={disk}", *args]
        if self.name == "linux-kvm":
            return [str(self.stage.vmm), "run", "--timeout", str(timeout), *args, str(image)]
        host = [f"--{h}" for h in getattr(test, "host", ())]
        return [str(Path(self.root, "grader", "baremetal", "run")), *host, "--kernel", str(self.stage.host_image),
                "--guest-dir", str(image.parent), "--timeout", str(timeout), "--", "run", *args, image.name]

    def default_timeout(self):
        """Seconds a guest may run: a lab 01-04 guest takes under 0.1 s on Linux KVM and about
        1 s on minikvm under Bochs (booting the host included), so a hang is told from a slow
        machine by a wide margin; a guest that needs longer says so with timeout=."""
        return 10 if self.name == "linux-kvm" else 20

    def readable(self):
        """What a run reads, bound read-only into its sandbox: the stage's out dir (the
        VMM or host image, the run's image copy under runs/), the guest images and,
        for minikvm, the bare-metal runner."""
        paths = [self.stage.out, self.guests]
        if self.name != "linux-kvm":
            paths.append(Path(self.root, "grader", "baremetal"))
        return paths


def run(platform, test):
    """Run the test's guest; returns (status or None if killed, transcript, elapsed).
    The transcript is a mac.Transcript: it carries the key of the run's image, and
    `output_bytes` (what the run printed) and `cut` (True when more than
    OUTPUT_KEPT was printed and only its ends are kept).

    The run is sandboxed (lib/sandbox.py): everything it reads is bound read-only,
    it writes only its private /tmp, and its output goes to a file the grader holds
    (the file-size limit bounds it), not a pipe, so a child the VMM left behind
    cannot hold the grader waiting for end of file. When the run ends, or its
    time is up, its whole process tree is ended (the PID namespace, and its
    process group when unsandboxed)."""
    timeout = test.timeout or platform.default_timeout()
    # The run's own copy of the image, with a fresh key (lib/mac.py), under the stage's
    # out dir: runs/run-XXXX/<image name>, read-only, removed after the run.
    image, key = mac.prepare(Path(platform.guests, test.guest), platform.stage.out / "runs")
    sandboxed = sandbox.active()
    disk, writable, disk_problem = None, [], ""
    if getattr(test, "disk", None):
        # The run's own disk beside its image: writable by the run (the file, not
        # the directory), checked and removed with it.
        disk = image.parent / DISK_NAME
        disk.write_bytes(disk_fill(test.disk))
        os.chmod(disk, 0o666)
        writable.append(disk)
    # CPU time: a guest that needs longer than the default (timeout=) gets it too.
    limits = dataclasses.replace(sandbox.RUN, cpu_seconds=max(sandbox.RUN.cpu_seconds, 2 * timeout))
    cmd = sandbox.wrap(platform.command(test, timeout, image, disk), readonly=platform.readable(),
                       writable=writable, kvm=True, limits=limits)
    t0 = time.monotonic()
    size, cut = 0, False
    try:
        with tempfile.TemporaryFile() as out, sandbox.own_uid() as uid:
            try:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, **sandbox.identity(uid if sandboxed else None, kvm=True))
            except OSError as e:
                status, text = RUNNER_BROKEN, f"cannot run {cmd[0]}: {e.strerror}"
            else:
                try:
                    status = p.wait(timeout + KILL_GRACE)
                except subprocess.TimeoutExpired:
                    status = None
                finally:
                    sandbox.kill_group(p)
                    p.wait()
                size = out.seek(0, 2)
                text, cut = sandbox.read_capped(out, OUTPUT_KEPT, keep_tail=OUTPUT_KEPT // 2)
        disk_problem = check_disk(disk.read_bytes(), text) if disk and platform.name == "linux-kvm" else ""
    finally:
        mac.release(image)
    transcript = mac.Transcript(text, key)
    transcript.disk_problem = disk_problem
    transcript.output_bytes, transcript.cut = size, cut
    return status, transcript, time.monotonic() - t0


DISK_NAME = "disk.img"


def disk_fill(size):
    """The bytes a run's disk starts with (guest_abi.h ABI_DISK_FILL): byte i is
    (i ^ (i >> 9) * 0x3b) & 0xff, so a sector is told from its neighbours. A
    sector is the ramp 0..255 twice xored with one of 256 keys: made once each."""
    ramp = bytes(range(256)) * 2
    sectors = [bytes(b ^ k for b in ramp) for k in range(256)]
    return b"".join(sectors[(s * 0x3b) & 0xff] for s in range(size // 512))


def disk_word(sector, j, seed):
    """guest_abi.h ABI_DISK_WORD."""
    return (seed ^ (sector * 0x01000193) ^ (j * 0x9e3779b1)) & 0xffffffff


def check_disk(data, transcript):
    """What is wrong with a disk after a run, against the guest's expect-disk line
    (the sectors it wrote hold ABI_DISK_WORD, the rest the fill), or ''."""
    want = re.search(r"^expect-disk: first=(\d+) last=(\d+) seed=(0x[0-9a-f]+)\s*$", transcript, re.M)
    fill = disk_fill(len(data))
    if not want:
        return "" if data == fill else "the disk changed, but the guest said nothing about writing it"
    first, last, seed = int(want[1]), int(want[2]), int(want[3], 16)
    if last >= len(data) // 512 or first > last:
        return f"expect-disk: sectors {first}..{last} are not on a disk of {len(data) // 512} sectors"
    for s in range(len(data) // 512):
        got = data[s * 512:(s + 1) * 512]
        if first <= s <= last:
            expect = b"".join(disk_word(s, j, seed).to_bytes(4, "little") for j in range(128))
            what = "the guest's pattern"
        else:
            expect, what = fill[s * 512:(s + 1) * 512], "the grader's fill (the guest did not write it)"
        if got != expect:
            k = next(i for i in range(512) if got[i] != expect[i])
            return (f"disk file after the run: sector {s} byte {k} is 0x{got[k]:02x}, "
                    f"0x{expect[k]:02x} expected ({what})")
    return ""


def flooded(transcript):
    """Why a run's output was too much, or '' (the run printed up to the sandbox's
    file-size limit, where its writer is ended)."""
    size = getattr(transcript, "output_bytes", 0)
    if size >= sandbox.RUN.file_bytes:
        return (f"the run printed {size >> 20} MiB or more and was ended there "
                f"(a run may print at most {sandbox.RUN.file_bytes >> 20} MiB)")
    return ""


def last_vmm_line(transcript):
    """The VMM's (or host kernel's) own last word on why the run ended, without
    register dumps and the host's bare 'exit status' line."""
    lines = [l for l in transcript.splitlines()
             if l.startswith(("vmm: ", "kvmlabs-host: ")) and not l.startswith("vmm:  ")
             and "registers after" not in l and not l.startswith("kvmlabs-host: exit status")]
    return vmx.annotate(lines[-1]) if lines else ""


def crash_detail(transcript):
    """The most specific reason a run crashed: the first failed VM-entry check
    minikvm named, else the VMM's last word."""
    checks = [l for l in transcript.splitlines() if l.startswith("vmentry-check:")]
    if checks:
        more = f" (and {len(checks) - 1} more check(s))" if len(checks) > 1 else ""
        return checks[0] + more
    return last_vmm_line(transcript)


def check_dirty(transcript):
    """The dirty guest's claim against the VMM's dirty log, inside the guest's probe region."""
    want = re.search(r"^expect-dirty: region=(0x[0-9a-f]+)\+(0x[0-9a-f]+) wrote=([0-9a-fx,]*)\s*$", transcript, re.M)
    if not want:
        return None
    base, size = int(want[1], 16), int(want[2], 16)
    wrote = {int(x, 16) for x in want[3].split(",") if x}
    # The guest syncs twice (clear, then measure); its claim follows the second report.
    reports = re.findall(r"^dirty: (\d+)((?: 0x[0-9a-f]+)*)\s*$", transcript[:want.start()], re.M)
    if not reports:
        return "the VMM printed no 'dirty:' report"
    seen = {int(x, 16) for x in reports[-1][1].split()}
    seen = {p for p in seen if base <= p < base + size}
    if seen != wrote:
        return (f"dirty log in region {want[1]}+{want[2]}: VMM reported {sorted(hex(p) for p in seen)}, "
                f"guest wrote {sorted(hex(p) for p in wrote)}")
    return ""


def judge(test, status, transcript, statuses=None, key=None):
    """(verdict, reason) for one run: status is the VMM's exit status (None: killed).
    key: the secret the run's image was given (default: the transcript's, as run()
    returns it); a passing report must carry the guest's MAC under it (lib/mac.py).
    Without a key (an image without a slot, a transcript from elsewhere) there is
    nothing to verify."""
    statuses = statuses or vmm_status.load()
    if key is None:
        key = getattr(transcript, "key", None)
    lines = transcript.splitlines()
    if status is None:
        return "TIMEOUT", "no result within the grader's time limit: the run was killed"
    if status == RUNNER_TIMEOUT:
        return "TIMEOUT", last_vmm_line(transcript) or "the emulator ran out of time"
    if status == RUNNER_BROKEN:
        return "CRASH", last_vmm_line(transcript) or "the platform runner failed"
    todo = TODO.search(transcript)
    if todo:
        return "FAIL", f"lab {todo[1]}: {todo[2]}() not implemented"
    if status < 0:
        return "CRASH", f"the VMM was killed by signal {-status}"
    if "ERROR: AddressSanitizer" in transcript or "runtime error:" in transcript:
        return "CRASH", "sanitizer report (see transcript)"
    failed = [l for l in lines if l.startswith("not ok ")]
    if failed:
        return "FAIL", f"guest check failed: {failed[0][7:]}"
    want = test.expected_status()
    if status != want:
        what = statuses.name(status)
        detail = last_vmm_line(transcript)
        if status == statuses["TIMEOUT"]:
            return "TIMEOUT", detail or "guest did not finish"
        if status in statuses.crash():
            return "CRASH", crash_detail(transcript) or detail or what
        return "FAIL", f"exit status {status} ({what}), expected {want} ({statuses.name(want)}); {detail}"
    if want == vmm_status.GUEST_PASSED:
        ends = [END.match(l) for l in lines if END.match(l)]
        oks = sum(1 for l in lines if l.startswith("ok "))
        if not ends:
            return "FAIL", "the guest never printed its 'kvmlabs: end' line"
        forged = mac.verify(transcript, key)
        if forged:
            return "FAIL", forged
        passed, nfailed = int(ends[-1][1]), int(ends[-1][2])
        if nfailed or passed != oks or passed == 0:
            return "FAIL", f"guest summary says passed={passed} failed={nfailed} but {oks} 'ok' lines were seen"
    dirty = check_dirty(transcript)
    if dirty:
        return "FAIL", dirty
    disk = getattr(transcript, "disk_problem", "")
    if disk:
        return "FAIL", disk
    return "PASS", ""


def report_lines(status, transcript):
    """What a guest observably did: its report lines and the exit status (for differential runs)."""
    # Without the MAC: each run's image has its own key, so the MACs always differ.
    return [mac.strip(l) for l in transcript.splitlines() if REPORT.match(l)] + [f"exit status {status}"]


def differential(primary, reference):
    """A unified diff of two runs' report lines, or '' if they agree."""
    a, b = report_lines(*primary), report_lines(*reference)
    if a == b:
        return ""
    return "\n".join(difflib.unified_diff(b, a, "linux-kvm", "minikvm", lineterm="", n=1))
