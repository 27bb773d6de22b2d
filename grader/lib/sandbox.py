"""Running a student's code in a sandbox: every stage build and every guest run.

A stage build compiles the student's C with the kit's Makefile; a run starts the
VMM they wrote (Linux KVM labs) or the kit's bare-metal runner, whose Bochs or
QEMU runs their VMM and minikvm (minikvm labs). Both are wrapped by wrap(), which
puts the command under

  - bubblewrap (Debian's bubblewrap): new user, PID, network, IPC, UTS and
    cgroup namespaces (--unshare-all: no network; no further user namespace), the system read-only (/usr
    and the /lib, /bin links; of /etc only what the compilers need), a private
    /tmp of bounded size, a minimal /dev (stdin is /dev/null), /dev/kvm only
    when the run needs it, only the paths the caller names bound in (writable
    ones writable, the rest read-only), and --die-with-parent with a PID
    namespace: when the sandbox's first process ends, or the grader does, the
    kernel ends every process in it, so no child outlives its test;
  - an unprivileged uid and gid of its own when the grader runs as root (one of
    UIDS from UID_BASE, none in use by two sandboxes of one grader at once, so
    one sandbox's processes never count against another's process limit), with
    the kvm group kept for /dev/kvm; as any other user the user's own
    (bubblewrap drops every capability either way);
  - prlimit (util-linux): CPU seconds and address space per process, processes
    per uid (when the sandbox has a uid of its own), file size (which also
    bounds the output: the grader passes a file as stdout, and a write past the
    limit ends the writer with SIGXFSZ) and open files; no core files.

Bochs inside: the runner needs only its own work directory (the private /tmp),
and the RFB port lock of grader/baremetal/run is then private too, which is
right: the sandbox has its own network namespace, so parallel Bochs can no
longer collide on a port.

When is it used: the mode is "on" (bubblewrap required: a run without it is
refused), "auto" (used where it works, else the code runs unsandboxed with a
note: a student grading their own work on their own machine), or "off" (for
debugging the kit). `grader/grade batch` -- other people's code -- is "on"
unless --no-sandbox says otherwise; lab/all/run are "auto". KVMLABS_SANDBOX=
on|auto|off sets the mode for any command.
"""
import contextlib
import grp
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODES = ("on", "auto", "off")
# Sandbox uids: Debian leaves 60000-64999 to be created on demand and none of
# them is a login; no file outside a stage belongs to them. KVMLABS_SANDBOX_UID
# moves the range where it is taken.
UID_BASE = int(os.environ.get("KVMLABS_SANDBOX_UID", "64000"))
UIDS = 64
_free_uids = list(range(UID_BASE, UID_BASE + UIDS))
_uids_changed = threading.Condition()

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int          # per process (RLIMIT_CPU)
    memory_bytes: int         # address space per process (RLIMIT_AS)
    processes: int            # processes and threads of the sandbox's uid (RLIMIT_NPROC)
    file_bytes: int           # largest file a process may write (RLIMIT_FSIZE), stdout included
    open_files: int           # RLIMIT_NOFILE
    tmp_bytes: int            # the private /tmp


# A stage build: make -j with gcc and ld; the largest link takes a few hundred MiB.
BUILD = Limits(cpu_seconds=120, memory_bytes=4096 * MiB, processes=256, file_bytes=256 * MiB,
               open_files=1024, tmp_bytes=256 * MiB)
# A run: the VMM (guest RAM up to a few hundred MiB) or Bochs with its RAM, its disk
# image and COM1 transcript in /tmp. Output past file_bytes ends the run.
RUN = Limits(cpu_seconds=120, memory_bytes=4096 * MiB, processes=256, file_bytes=64 * MiB,
             open_files=256, tmp_bytes=256 * MiB)

# Of /etc, what compilers and the dynamic linker read (cc -> /etc/alternatives/cc).
ETC = ("/etc/alternatives", "/etc/ld.so.cache")
# What the bare-metal runner reads to choose QEMU with nested VMX over Bochs.
SYS = ("/sys/module/kvm_intel/parameters",)


class SandboxError(RuntimeError):
    """The sandbox was required (mode "on") and cannot be used here."""


_mode = None


def mode():
    """The mode in force: set_mode()'s, else KVMLABS_SANDBOX, else "auto"."""
    m = _mode or os.environ.get("KVMLABS_SANDBOX", "auto").strip().lower() or "auto"
    if m not in MODES:
        raise SandboxError(f"KVMLABS_SANDBOX={m}: choose one of {', '.join(MODES)}")
    return m


def set_mode(m):
    """Set the mode for this process (None: back to the environment's)."""
    global _mode
    if m is not None and m not in MODES:
        raise SandboxError(f"unknown sandbox mode {m} (choose one of {', '.join(MODES)})")
    _mode = m


def as_root():
    return os.geteuid() == 0


def kvm_gid():
    try:
        return grp.getgrnam("kvm").gr_gid
    except KeyError:
        return None


@contextlib.contextmanager
def own_uid():
    """A uid no other sandbox of this grader uses meanwhile (None when not root:
    the sandbox then runs as the user)."""
    if not as_root():
        yield None
        return
    with _uids_changed:
        while not _free_uids:
            _uids_changed.wait()
        uid = _free_uids.pop(0)
    try:
        yield uid
    finally:
        with _uids_changed:
            _free_uids.append(uid)
            _uids_changed.notify()


def identity(uid, kvm=False):
    """subprocess keyword arguments that run the sandbox as uid (and gid uid), with
    the kvm group when kvm; empty for uid None."""
    if uid is None:
        return {}
    extra = [kvm_gid()] if kvm and kvm_gid() is not None else []
    return {"user": uid, "group": uid, "extra_groups": extra}


@lru_cache(maxsize=1)
def problem():
    """None when bubblewrap works here, else why not. Tried once: a container or a
    kernel may forbid the user namespaces it needs even when it is installed."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if not bwrap:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    if not prlimit:
        return "prlimit is not installed (apt-get install util-linux)"
    try:
        with own_uid() as uid:
            p = subprocess.run(wrap(["/usr/bin/true"], force=True), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=20, **identity(uid))
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap does not start: {e}"
    if p.returncode:
        return "bubblewrap cannot make its namespaces here: " + p.stdout.decode("utf-8", "replace").strip()[:300]
    return None


# The kit this grader belongs to: the sandbox's uids must reach it.
KIT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def kit_unreachable():
    """Why the sandbox's uids cannot reach this kit (a checkout under /root graded
    as root), or None."""
    return unreachable([KIT])


def active():
    """Whether student code runs sandboxed now. Raises SandboxError in mode "on"
    when it cannot be. In mode "auto" (a student grading their own code) a kit the
    sandbox cannot reach runs unsandboxed, with a note, rather than not at all; in
    mode "on" (batch) the stage says it cannot be reached, submission by submission."""
    m = mode()
    if m == "off":
        return False
    why = problem()
    if why is None:
        return not (m == "auto" and kit_unreachable())
    if m == "on":
        raise SandboxError(f"the sandbox is required for untrusted code and {why}; "
                           "grade without it only with --no-sandbox (KVMLABS_SANDBOX=off)")
    return False


def note():
    """A sentence for the grade's notes when code runs unsandboxed, else None."""
    m = mode()
    if m == "off":
        return "the student's code ran without the sandbox (KVMLABS_SANDBOX=off or --no-sandbox)"
    if m == "auto" and (problem() or kit_unreachable()):
        return f"the student's code ran without the sandbox: {problem() or kit_unreachable()}"
    return None


def unreachable(paths):
    """When root hands code to the sandbox's uids: the first directory on the way to
    one of paths they cannot search (a checkout under /root, a 0700 temporary
    directory), with what to do; else None. bubblewrap binds paths as that uid."""
    if not as_root():
        return None
    for path in paths:
        for d in [*reversed(Path(path).resolve().parents), Path(path).resolve()]:
            try:
                st = d.stat()
            except FileNotFoundError:
                break
            if not st.st_mode & 0o001:
                return (f"the sandbox's uids cannot reach {path}: {d} is not searchable by others "
                        f"(chmod o+x {d}, or grade from a checkout elsewhere)")
    return None


def prlimit_args(limits, own_uid):
    args = ["prlimit", f"--cpu={limits.cpu_seconds}", f"--as={limits.memory_bytes}",
            f"--fsize={limits.file_bytes}", f"--nofile={limits.open_files}", "--core=0"]
    # RLIMIT_NPROC counts every process of the uid: only meaningful when the uid is
    # the sandbox's own, not a student's login with their desktop under it.
    if own_uid:
        args.append(f"--nproc={limits.processes}")
    return args


def wrap(cmd, writable=(), readonly=(), kvm=False, limits=RUN, cwd=None, force=False):
    """The command line that runs cmd in the sandbox: paths in `writable` bound
    read-write and those in `readonly` read-only, each at its own path (so cmd's
    paths need no rewriting); /dev/kvm when kvm. cmd unchanged when the sandbox is
    not active (see mode()). Start it with identity(kvm)'s keyword arguments."""
    if not force and not active():
        return [str(c) for c in cmd]
    # --disable-userns: no user namespace of its own inside, where a kernel bug
    # would most likely be reached from.
    bw = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
          "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = Path("/", link)
        if target.is_symlink():
            bw += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            bw += ["--ro-bind", str(target), f"/{link}"]
    for path in ETC + SYS:
        if Path(path).exists():
            bw += ["--ro-bind", path, path]
    bw += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
           "--setenv", "TMPDIR", "/tmp", "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin",
           "--unsetenv", "MAKEFLAGS", "--unsetenv", "MFLAGS"]
    if kvm and Path("/dev/kvm").exists():
        bw += ["--dev-bind", "/dev/kvm", "/dev/kvm"]
    # Read-only first, then writable: a writable directory inside a read-only one
    # (the stage's out dir inside the checkout) is mounted over it.
    for path in readonly:
        p = str(Path(path).resolve())
        bw += ["--ro-bind", p, p]
    for path in writable:
        p = str(Path(path).resolve())
        bw += ["--bind", p, p]
    if cwd:
        bw += ["--chdir", str(Path(cwd).resolve())]
    return prlimit_args(limits, as_root()) + bw + ["--", *[str(c) for c in cmd]]


def give(path, uid):
    """Hand a directory tree to the sandbox's uid so a build can write in it
    (nothing for uid None: the files are already the user's)."""
    if uid is None:
        return
    _chown_tree(Path(path), uid, uid)


def take_back(path):
    """After the sandbox ended: the tree is root's again, so nothing the build left
    can be changed by a later sandbox of the same uid, and the grader's own files
    in it (logs, run directories) cannot be swapped under it."""
    if not as_root():
        return
    _chown_tree(Path(path), os.geteuid(), os.getegid())


def _chown_tree(top, uid, gid):
    os.lchown(top, uid, gid)
    for dirpath, dirnames, filenames in os.walk(top):   # os.walk does not follow links
        for name in dirnames + filenames:
            try:
                os.lchown(os.path.join(dirpath, name), uid, gid)
            except FileNotFoundError:
                pass


def fresh_dir(path):
    """path as a new, real, empty directory of the grader's, whatever a sandbox
    left there (a link somewhere else, a file)."""
    path = Path(path)
    if path.is_symlink() or path.exists() and not path.is_dir():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write_private(path, data):
    """Write the grader's file in a directory a sandbox could write: never through
    a link the sandbox left in its place."""
    path = Path(path)
    if path.is_symlink() or path.exists() and not path.is_file():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8", "replace"))


def read_capped(f, limit, keep_tail=0):
    """(text, cut): a file object's contents decoded with replacement, at most
    `limit` bytes of it (its first limit - keep_tail and last keep_tail bytes)."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(0)
    if size <= limit:
        return f.read().decode("utf-8", "replace"), False
    head = f.read(limit - keep_tail)
    tail = b""
    if keep_tail:
        f.seek(size - keep_tail)
        tail = f.read(keep_tail)
    marker = f"\n[... {size - len(head) - len(tail)} bytes of output not kept ...]\n".encode()
    return (head + marker + tail).decode("utf-8", "replace"), True


def kill_group(proc):
    """End the process group a sandboxed command started (start_new_session)."""
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
