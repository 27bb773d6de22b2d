"""The VMM's behaviour as a user sees it: command line, bad images, hostile guests.

Run by grader/selftest with KVMLABS_VMM pointing at the plain and the
ASan+UBSan build. Each bad input must end with one specific 'vmm:' line and its
own exit status (solution/include/kvmlabs/vmm_status.h), never a crash.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import status  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VMM = os.environ.get("KVMLABS_VMM", os.path.join(ROOT, "build", "solution", "vmm"))
GUESTS = os.path.join(ROOT, "build", "guests")
STATUS = status.load()


def vmm(*args, timeout=30):
    p = subprocess.run([VMM, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, text=True, errors="replace")
    return p.returncode, p.stdout, p.stderr


def elf32(entry=0x100000, paddr=0x100000, code=b"\xf4", phoff=52, truncate=None, machine=3):
    """A minimal i386 ELF executable with one PT_LOAD segment."""
    eh = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01" + b"\0" * 9, 2, machine, 1, entry, phoff, 0, 0,
                     52, 32, 1, 0, 0, 0)
    ph = struct.pack("<IIIIIIII", 1, 84, paddr, paddr, len(code), len(code), 5, 4096)
    img = eh + ph + code
    return img[:truncate] if truncate else img


class VmmCase(unittest.TestCase):
    """What the VMM's tests share: image files in a private directory, the kit's
    guests, and a run that ends with a status and a message, without a sanitizer report."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def image(self, data, name="img"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def guest(self, name):
        path = os.path.join(GUESTS, name)
        if not os.path.exists(path):
            self.fail(f"{path} is missing: build the guests (make guests)")
        return path

    def assertEnds(self, result, status, message):
        """status: a name from vmm_status.h or a number (a guest's own exit value)."""
        code, out, err = result
        self.assertNotIn("AddressSanitizer", err)
        self.assertNotIn("runtime error", err)
        self.assertEqual(code, STATUS[status] if isinstance(status, str) else status, f"stderr: {err}")
        self.assertRegex(err, message)


class VmmTest(VmmCase):

    # ---- the command line
    def test_help_documents_every_option(self):
        code, out, _ = vmm("--help")
        self.assertEqual(code, 0)
        for opt in ("--mem", "--cpus", "--mode", "--load", "--entry", "--trace", "--timeout",
                    "--no-irqchip", "--dirty-report", "--max-output"):
            self.assertIn(opt, out)

    def test_version_and_info(self):
        code, out, _ = vmm("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^vmm \(kvmlabs\) stage \d+ on \S+")
        code, out, err = vmm("info")
        self.assertEqual(code, 0, err)
        self.assertIn("api-version: 12", out)

    def test_usage_errors(self):
        img = self.image(b"\xf4")
        for args, msg in (((), r"no image given"), (("--bogus", img), r"unknown option '--bogus'"),
                          (("--mem", "12Q", img), r"--mem: '12Q': the only suffixes are K, M and G"),
                          (("--cpus", "99", img), r"--cpus: '99' is not a number between 1 and 8"),
                          (("--mode", "unreal", img), r"--mode takes real, prot or long"),
                          (("--mem",), r"needs a value"), (("--trace=1", img), r"takes no value")):
            with self.subTest(args=args):
                self.assertEnds(vmm("run", *args), "USAGE", msg)

    def test_numbers_are_decimal_or_hex_only(self):
        # strtoull() took all of these: "-18446744073709551615" wrapped to 1,
        # "010" was octal 8, and a sign or leading space passed.
        img = self.image(b"\xb0\x00\xe6\xf4")
        for args, msg in ((("--cpus", "-18446744073709551615"), r"not a number"),
                          (("--cpus", "-1"), r"not a number"),
                          (("--cpus", "010"), r"a leading 0 is not accepted"),
                          (("--cpus", "+2"), r"not a number"), (("--cpus", " 2"), r"not a number"),
                          (("--cpus", "2 "), r"not a number"), (("--cpus", "0x"), r"no hex digits"),
                          (("--timeout", "18446744073709551616"), r"too large"),
                          (("--mem", "+2M"), r"not a number"), (("--mem", " 2M"), r"not a number"),
                          (("--mem", "2MB"), r"not a size"), (("--mem", "16E"), r"the only suffixes are K, M and G"),
                          (("--mem", "0x400000000G"), r"too large")):
            with self.subTest(args=args):
                self.assertEnds(vmm("run", *args, img), "USAGE", re.escape(f"{args[0]}: '{args[1]}': ") + msg)
        for args in (("--cpus", "2"), ("--cpus", "0x2"), ("--mem", "2m"), ("--mem", "0x200000"),
                     ("--mem=2048K",), ("--timeout", "0x10")):
            with self.subTest(args=args):
                self.assertEqual(vmm("run", *args, img)[0], 1)

    def test_sanitizer_report_is_no_pass(self):
        # A sanitizer's report ended the process with status 1 (ASan, UBSan):
        # what a guest that passed gives. The sanitizer builds set exitcode.
        for var in ("ASAN_OPTIONS", "TSAN_OPTIONS"):
            p = subprocess.run([VMM, "--version"], env=dict(os.environ, **{var: "help=1"}), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace", timeout=30)
            m = re.search(r"\bexitcode\n\s*- .*\(Current Value: (\d+)\)", p.stdout)
            if not m:
                continue  # not this sanitizer's build
            with self.subTest(sanitizer=var):
                self.assertEqual(int(m.group(1)), STATUS["SANITIZER"])
                self.assertNotEqual(STATUS["SANITIZER"] & 1, 1, "odd statuses are the guest's")

    # ---- bad images
    def test_missing_image(self):
        self.assertEnds(vmm("run", os.path.join(self.tmp.name, "nope.bin")), "BAD_IMAGE",
                        r"nope\.bin: cannot open: No such file")

    def test_options_take_values_both_ways(self):
        img = self.image(b"\xb0\x00\xe6\xf4")
        for args in (("--mem", "2M"), ("--mem=2M",)):
            with self.subTest(args=args):
                self.assertEqual(vmm("run", *args, img)[0], 1)

    def test_directory_is_not_an_image(self):
        self.assertEnds(vmm("run", self.tmp.name), "BAD_IMAGE", r"not a regular file")

    def test_empty_image(self):
        self.assertEnds(vmm("run", self.image(b"")), "BAD_IMAGE", r"empty image")

    def test_oversize_image(self):
        self.assertEnds(vmm("run", "--mem", "1M", self.image(b"\0" * (2 << 20))), "BAD_IMAGE",
                        r"larger than guest RAM")

    def test_flat_image_past_end_of_ram(self):
        self.assertEnds(vmm("run", "--mem", "1M", "--load", "0xff000", self.image(b"\x90" * 8192)),
                        "BAD_IMAGE", r"outside guest RAM")

    def test_truncated_elf(self):
        self.assertEnds(vmm("run", self.image(elf32(truncate=40))), "BAD_IMAGE", r"truncated ELF header")

    def test_elf_segment_beyond_file(self):
        img = bytearray(elf32())
        struct.pack_into("<I", img, 52 + 16, 0x10000)  # p_filesz far beyond the file
        struct.pack_into("<I", img, 52 + 20, 0x10000)
        self.assertEnds(vmm("run", self.image(bytes(img))), "BAD_IMAGE", r"truncated image")

    def test_elf_program_headers_outside_file(self):
        self.assertEnds(vmm("run", self.image(elf32(phoff=4096))), "BAD_IMAGE", r"program headers")

    def test_elf_wrong_machine(self):
        self.assertEnds(vmm("run", self.image(elf32(machine=40))), "BAD_IMAGE", r"not an i386 executable")

    def test_entry_outside_memory(self):
        self.assertEnds(vmm("run", self.image(elf32(entry=0xc0000000))), "BAD_IMAGE",
                        r"entry point 0xc0000000 is outside guest memory")

    def test_setup_failure_ends_with_one_line(self):
        # The image is found bad once the VM, its memory and its devices exist:
        # they are taken down again, and the reason is the last line, once.
        code, out, err = vmm("run", "--trace", self.image(elf32(entry=0xc0000000)))
        self.assertNotIn("Sanitizer", err)
        self.assertEqual(code, STATUS["BAD_IMAGE"], err)
        self.assertRegex(err, r"entry point 0xc0000000 is outside guest memory \(exit status 4\)\n$")
        self.assertEqual(err.count("outside guest memory"), 1, err)

    def test_bad_multiboot_header(self):
        # A valid multiboot magic+checksum with the a.out flag but impossible addresses.
        hdr = struct.pack("<III", 0x1BADB002, 0x10000, (-(0x1BADB002 + 0x10000)) & 0xffffffff)
        hdr += struct.pack("<IIIII", 0x100000, 0x200000, 0, 0, 0x100000)
        self.assertEnds(vmm("run", self.image(hdr + b"\xf4")), "BAD_IMAGE", r"multiboot header addresses")

    # ---- guests that misbehave (grader/guests/bad-*)
    def test_guest_loops_forever(self):
        self.assertEnds(vmm("run", "--timeout", "1", self.guest("bad-loop.bin")), "TIMEOUT",
                        r"timeout: the guest ran for 1 s")

    def test_guest_floods_the_uart(self):
        self.assertEnds(vmm("run", "--timeout", "20", "--max-output", "4096", self.guest("bad-flood.bin")),
                        "OUTPUT_FLOOD", r"printed more than 4096 bytes")

    def test_guest_triple_faults(self):
        self.assertEnds(vmm("run", "--timeout", "10", self.guest("bad-triple-fault.bin")), "TRIPLE_FAULT",
                        r"triple fault \(KVM_EXIT_SHUTDOWN\)")

    def test_register_dump_shows_every_segment_and_control_register(self):
        # A student whose vCPU setup is wrong reads this dump: each segment's
        # selector, base, limit and attributes, and the control registers.
        _, _, err = vmm("run", "--timeout", "10", self.guest("bad-triple-fault.bin"))
        self.assertIn("vmm: vCPU 0 registers after", err)
        for seg in ("cs", "ss", "ds", "es", "fs", "gs", "tr", "ldtr"):
            self.assertRegex(err, rf"(?m)^vmm:  {seg} +sel [0-9a-f]{{4}} base [0-9a-f]{{16}} limit [0-9a-f]{{8}} "
                                  r"type [0-9a-f] s \d dpl \d p \d db \d l \d g \d avl \d")
        self.assertRegex(err, r"(?m)^vmm:  gdtr base [0-9a-f]{16} limit [0-9a-f]{4}  idtr base [0-9a-f]{16} limit ")
        for reg in ("cr0", "cr3", "cr4", "efer"):
            self.assertRegex(err, rf"(?m)^vmm:  .*\b{reg} [0-9a-f]{{16}}\b")
        # The real-mode guest's CS: limit 0xffff, a code segment (type b: execute/read, accessed).
        self.assertRegex(err, r"(?m)^vmm:  cs   sel 0000 base 0000000000000000 limit 0000ffff type b s 1 ")
        # The verdict comes after the dump, so it is the VMM's last word.
        self.assertRegex(err, r"triple fault \(KVM_EXIT_SHUTDOWN\) \(exit status 8\)\n$")

    def test_guest_jumps_into_nowhere(self):
        code, out, err = vmm("run", "--timeout", "10", self.guest("bad-wild-jump.elf"))
        self.assertNotIn("AddressSanitizer", err)
        # Linux KVM reports fetching from no memory as an internal error (emulation failure);
        # the VMM names it.
        self.assertEqual(code, STATUS["WILD_JUMP"], err)
        self.assertIn("executed outside guest memory", err)

    def test_access_crossing_into_mmio_is_served(self):
        # KVM splits an access crossing a page boundary into one MMIO exit per
        # MMIO part, of any length 1..8 (3 and 5 here): each must be served.
        code, out, err = vmm("run", "--mem=32M", "--timeout", "20", self.guest("bad-mmio-cross.elf"))
        self.assertNotIn("Sanitizer", err)
        self.assertEqual(code, 1, out + err)
        self.assertNotIn("not ok", out)
        self.assertIn("ok window-read-3-of-8", out)
        self.assertIn("ok ram-into-unassigned-read", out)

    def test_halt_without_irqchip_ends_the_vm(self):
        self.assertEnds(vmm("run", "--no-irqchip", self.image(b"\xf4")), "HALTED", r"all vCPUs halted")

    def test_halt_with_interrupts_off_ends_the_vm(self):
        # cli; hlt with the in-kernel irqchip: KVM keeps the HLT, and nothing
        # can wake the vCPU. Without --timeout the VMM used to wait forever.
        for cpus in ("1", "2"):
            with self.subTest(cpus=cpus):
                t0 = time.monotonic()
                self.assertEnds(vmm("run", "--cpus", cpus, self.image(b"\xfa\xf4\xeb\xfd"), timeout=20), "HALTED",
                                r"all vCPUs halted with interrupts disabled")
                self.assertLess(time.monotonic() - t0, 10)

    def test_halt_with_interrupts_on_waits(self):
        # sti; hlt: an interrupt may still come (UART input, the doorbell), so it is no deadlock.
        self.assertEnds(vmm("run", "--timeout", "3", self.image(b"\xfb\xf4\xeb\xfd")), "TIMEOUT", r"timeout")

    def test_timeout_holds_with_stdout_a_pipe_nobody_reads(self):
        # Two vCPUs print forever into a pipe that is never read: once it is
        # full every write blocks, and the VMM used to outlive --timeout there.
        r, w = os.pipe()
        try:
            p = subprocess.Popen([VMM, "run", "--cpus", "2", "--timeout", "2", "--max-output", "1G",
                                  self.guest("bad-flood.bin")], stdin=subprocess.DEVNULL, stdout=w,
                                 stderr=subprocess.PIPE, text=True)
            os.close(w)
            try:
                _, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                self.fail("the VMM outlived --timeout 2 by 8 s with stdout a full pipe")
        finally:
            os.close(r)
        self.assertEqual(p.returncode, STATUS["TIMEOUT"], err)
        self.assertIn("guest output lost", err)

    def test_closed_stdout_does_not_become_dev_kvm(self):
        # Started with fd 1 closed, the next open() got 1: /dev/kvm, and guest output went there.
        p = subprocess.Popen(["sh", "-c", 'exec "$0" "$@" >&-', VMM, "run", "--timeout", "5",
                              self.guest("bad-loop.bin")], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            fds = {}
            for _ in range(50):
                time.sleep(0.1)
                try:
                    fds = {fd: os.readlink(f"/proc/{p.pid}/fd/{fd}") for fd in (0, 1, 2)}
                except OSError:
                    continue
                if any("kvm" in os.readlink(f"/proc/{p.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{p.pid}/fd")):
                    break
        finally:
            _, err = p.communicate(timeout=20)
        self.assertEqual(fds.get(1), "/dev/null", err)
        self.assertEqual(p.returncode, STATUS["TIMEOUT"], err)

    def test_dirty_sync_loop_is_bounded_by_max_output(self):
        # mov eax, 1 (DIRTY_SYNC); mov dx, 0x708 (CMD); out dx, eax; jmp back to the out:
        # each sync prints a report; they count as output.
        img = self.image(b"\x66\xb8\x01\x00\x00\x00\xba\x08\x07\x66\xef\xeb\xfc")
        t0 = time.monotonic()
        self.assertEnds(vmm("run", "--dirty-log", "--max-output", "4096", "--timeout", "20", img), "OUTPUT_FLOOD",
                        r"printed more than 4096 bytes")
        self.assertLess(time.monotonic() - t0, 15)

    def test_dirty_report_is_bounded_by_max_output(self):
        code, out, err = vmm("run", "--dirty-report", "1", "--max-output", "256", "--timeout", "20",
                             self.guest("bad-loop.bin"))
        self.assertEqual(code, STATUS["OUTPUT_FLOOD"], err)
        self.assertLessEqual(len(out), 256)
        self.assertTrue(out.startswith("dirty: "), out)

    def test_guest_exit_status_is_qemu_debug_exit(self):
        # mov al, 5; out 0xf4, al  ->  (5 << 1) | 1 = 11
        code, _, err = vmm("run", self.image(b"\xb0\x05\xe6\xf4\xf4"))
        self.assertEqual(code, 11, err)
        self.assertIn("guest exit through port 0xf4 with value 5", err)

    def test_trace_prints_every_exit(self):
        # out 0xe9, al twice, then exit
        code, out, err = vmm("run", "--trace", self.image(b"\xb0\x41\xe6\xe9\xe6\xe9\xb0\x00\xe6\xf4"))
        self.assertEqual(code, 1)
        self.assertEqual(out, "AA")
        self.assertEqual(len(re.findall(r"trace vcpu0 IO out port=0xe9 size=1 count=1 data=0x41", err)), 2)
        self.assertIn("trace vcpu0 IO out port=0xf4", err)

    def test_smp_every_vcpu_reports(self):
        code, out, err = vmm("run", "--cpus", "3", "--timeout", "20", self.guest("prot-smp.elf"))
        self.assertEqual(code, 1, out + err)
        for cpu in range(3):
            self.assertRegex(out, rf"cpu {cpu} up")

    def test_dirty_report_lists_pages(self):
        code, out, err = vmm("run", "--dirty-log", "--timeout", "20", self.guest("prot-dirty.elf"))
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^dirty: \d+( 0x[0-9a-f]+)+$")


if __name__ == "__main__":
    unittest.main()
