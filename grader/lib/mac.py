"""The guest's report carries a MAC, so a VMM cannot fake a passing transcript.

Every guest built on the runtime (grader/guests/rt/mac.c) has a marked key slot:
16 marker bytes, then a 32-byte key, zero in the images the kit builds. Before
each graded run, prepare() copies the image into a directory of that run's own
and writes a fresh random key into the copy's slot. The guest computes
HMAC-SHA256 over its report lines as it prints them and prints the result on its
end line:

    kvmlabs: end passed=N failed=M skipped=K mac=HEX

What is MACed (canonical form): the guest's report lines in the order they
appear -- "kvmlabs: begin", "ok", "not ok", "skip", and the end line up to but
not including " mac=" -- each without its newline, joined by "\\n". Anything
else in the transcript (the VMM's lines, the guest's information lines) is not.

A VMM that really runs the guest gets this right for free; one that prints the
lines itself would have to dig the key out of the image and reimplement the
guest's checks. The slot is found by its marker in the file's bytes, so ELF32,
ELF64 and flat real-mode images are all prepared the same way.
"""
import hashlib
import hmac
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

MAGIC = b"KVMLABS-MACKEY-1"      # rt/mac.h, struct mac_key_slot
KEY_BYTES = 32
REPORT = re.compile(r"^(kvmlabs: begin |ok |not ok |skip |kvmlabs: end )")
END_MAC = re.compile(r"^(kvmlabs: end passed=\d+ failed=\d+ skipped=\d+) mac=([0-9a-f]{64})\s*$")
BAD = "the guest's report does not verify ({why}): the lines did not come from the guest"


class SlotError(Exception):
    """An image whose key slot cannot be told apart: the marker appears more than once."""


class Transcript(str):
    """A run's transcript that knows the key its image was given (None: the image
    had no slot, so there is nothing to verify). A str, so every reader of
    transcripts keeps working; runner.judge takes the key from it."""
    key: bytes | None

    def __new__(cls, text, key=None):
        t = super().__new__(cls, text)
        t.key = key
        return t


def find_slot(data):
    """The offset of the key in the image's bytes, or None if it has no slot."""
    at = data.find(MAGIC)
    if at < 0:
        return None
    if data.find(MAGIC, at + 1) >= 0:
        raise SlotError(f"the key marker {MAGIC.decode()} appears more than once")
    if at + len(MAGIC) + KEY_BYTES > len(data):
        raise SlotError("the key slot is cut short by the end of the image")
    return at + len(MAGIC)


def write_key(data, key):
    """The image's bytes with key in its slot (data unchanged if it has none)."""
    at = find_slot(data)
    if at is None:
        return data
    return data[:at] + key + data[at + KEY_BYTES:]


def prepare(image_path, workdir):
    """(copy_path, key): a private copy of the image in a new directory under
    workdir, with a fresh random key in its slot; key is None when the image has
    no slot (the copy is then byte for byte the image). The copy keeps the
    image's name, so a platform that takes a guest directory and a name (the
    bare-metal runner's --guest-dir) finds it under the same name. The directory
    is the run's own: release() removes it."""
    image_path = Path(image_path)
    data = image_path.read_bytes()
    key = secrets.token_bytes(KEY_BYTES) if find_slot(data) is not None else None
    Path(workdir).mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    # Readable by the run's unprivileged user (the sandbox), writable by none:
    # the VMM reads the image, it never needs to change it.
    os.chmod(rundir, 0o755)
    copy = rundir / image_path.name
    copy.write_bytes(write_key(data, key) if key else data)
    os.chmod(copy, 0o444)
    return copy, key


def release(copy_path):
    """Remove the run's directory prepare() made (nothing else)."""
    rundir = Path(copy_path).parent
    if rundir.name.startswith("run-"):
        shutil.rmtree(rundir, ignore_errors=True)


def report_lines(transcript):
    """(lines, mac_hex or None): the guest's report lines in the transcript up to
    its first end line that carries a MAC, which is the end line the guest
    printed (the runtime finishes its MAC there)."""
    lines = []
    for line in transcript.splitlines():
        if not REPORT.match(line):
            continue
        m = END_MAC.match(line)
        if m:
            return lines + [m[1]], m[2]
        lines.append(line)
    return lines, None


def canonical(lines):
    """The bytes the guest MACs: its report lines joined by newlines."""
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def compute(key, lines):
    return hmac.new(key, canonical(lines), hashlib.sha256).hexdigest()


def verify(transcript, key):
    """None if the transcript's report verifies under key (or key is None: the
    image had no slot), else the reason it does not."""
    if key is None:
        return None
    lines, mac = report_lines(transcript)
    if mac is None:
        return BAD.format(why="no MAC")
    if not hmac.compare_digest(compute(key, lines), mac):
        return BAD.format(why="bad MAC")
    return None


def strip(line):
    """A report line without its MAC: two runs of one guest differ only there."""
    m = END_MAC.match(line)
    return m[1] if m else line
