"""The VMM's loader as a user meets it: image and module files, the multiboot
command line and modules, a Linux bzImage's zero page, how the vCPUs after the
first start.

Run by grader/selftest's vmm-errors step with KVMLABS_VMM pointing at the plain
and the ASan+UBSan build. Bad input ends with one specific 'vmm:' line and its
own exit status, in bounded time; good input reaches the guest, which checks
what it got (grader/guests/kut-*.c) and says so.
"""
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_vmm import STATUS, VmmCase, elf32, vmm  # noqa: E402

MB_MAGIC = 0x1BADB002
# The debug-exit port's statuses: (value << 1) | 1 for the guest's 0 (passed) and 1 (failed).
GUEST_PASSED, GUEST_FAILED = 1, 3
# mov $0, %al; out %al, $0xf4: the guest passes at once (status 1).
PASS_CODE = b"\xb0\x00\xe6\xf4"


def multiboot_elf(code=PASS_CODE):
    """A multiboot v1 ELF32 kernel: the header (flags 0) is the segment's first
    12 bytes, at file offset 84, inside the 8 KiB the loader searches; the
    entry follows it."""
    header = struct.pack("<III", MB_MAGIC, 0, (-MB_MAGIC) & 0xffffffff)
    return elf32(entry=0x100000 + len(header), code=header + code)


# A bzImage's 64-bit entry (boot.rst, "64-bit BOOT PROTOCOL"): RSI is the zero page;
# the guest passes if it holds the loader's 3-entry E820 map and a command line that
# starts with "k" (--append kvmlabs), else it fails:
#   cmp byte [rsi+0x1e8], 3; jne fail; mov eax, [rsi+0x228]; cmp byte [rax], 'k'; jne fail
#   xor eax, eax; out 0xf4, eax; hlt;  fail: mov eax, 1; out 0xf4, eax; hlt
BZ_ENTRY64 = bytes.fromhex("80bee801000003" "7510" "8b8628020000" "80386b" "7505"
                           "31c0" "e7f4" "f4" "b801000000" "e7f4" "f4")


def bzimage(version=0x020f, xloadflags=1, setup_sects=1, cmdline_size=2048, init_size=0x10000):
    """A bzImage: setup_sects + 1 sectors of real-mode setup holding the setup header
    at 0x1f1, then the protected-mode kernel, whose 64-bit entry is at 0x200."""
    setup = bytearray(512 * (setup_sects + 1) if setup_sects < 64 else 1024)
    setup[0x1f1] = setup_sects
    struct.pack_into("<H", setup, 0x1fe, 0xaa55)
    setup[0x200:0x202] = bytes([0xeb, 0x264 - 0x202])      # the jump over the header: its length
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<I", setup, 0x22c, 0x7fffffff)        # initrd_addr_max
    struct.pack_into("<H", setup, 0x236, xloadflags)
    struct.pack_into("<I", setup, 0x238, cmdline_size)
    struct.pack_into("<I", setup, 0x260, init_size)
    return bytes(setup) + b"\x90" * 0x200 + BZ_ENTRY64


class LoaderTest(VmmCase):
    # ---- image files
    def test_elf_magic_alone_is_a_truncated_header(self):
        # The ELF class byte is img[4]: a 4-byte file must not be read past its end.
        for data in (b"\x7fELF", b"\x7fELF\x01", b"\x7fELF\x02\x01"):
            with self.subTest(size=len(data)):
                self.assertEnds(vmm("run", self.image(data)), "BAD_IMAGE", r"truncated ELF header")

    def test_fifo_is_refused_without_waiting_for_a_writer(self):
        for opt in ((), ("--initrd",)):
            with self.subTest(opt=opt):
                fifo = os.path.join(self.tmp.name, f"fifo{len(opt)}")
                os.mkfifo(fifo)
                args = ("--initrd", fifo, self.image(multiboot_elf())) if opt else (fifo,)
                self.assertEnds(vmm("run", *args, timeout=10), "BAD_IMAGE", r"not a regular file \(a FIFO\)")

    # ---- --append and --initrd
    def test_initrd_errors(self):
        image = self.image(multiboot_elf())
        big = self.image(b"x" * (1 << 20), "big")
        for args, msg in (
                (("--initrd", os.path.join(self.tmp.name, "none"), image), r"--initrd \S+/none: cannot open"),
                (("--initrd", self.tmp.name, image), r"not a regular file \(a directory\)"),
                (("--mem", "2M", "--initrd", big, image),
                 r"--initrd \S+ \(1048576 bytes\) does not fit in guest RAM after the image "
                 r"\(0x101000\.\.0x201000 of 0\.\.0x200000\): try a larger --mem")):
            with self.subTest(args=args[:-1]):
                self.assertEnds(vmm("run", "--timeout", "5", *args), "BAD_IMAGE", msg)

    def test_initrd_just_fits(self):
        # The module ends exactly at the end of RAM: allowed.
        image = self.image(multiboot_elf())
        fits = self.image(b"x" * (0x200000 - 0x101000), "fits")
        self.assertEnds(vmm("run", "--timeout", "5", "--mem", "2M", "--initrd", fits, image), GUEST_PASSED,
                        r"guest exit through port 0xf4 with value 0")

    def test_append_too_long(self):
        self.assertEnds(vmm("run", "--append", "x" * 5000, self.image(multiboot_elf())), "BAD_IMAGE",
                        r"--append: the command line \(\d+ bytes\) does not fit in the multiboot information page")

    def test_append_and_initrd_need_a_multiboot_kernel_or_a_bzimage(self):
        for kind, image in (("elf32", elf32(code=PASS_CODE)), ("flat", PASS_CODE)):
            for opt, value in (("--append", "x=1"), ("--initrd", self.image(b"NR_CPUS=1\n", "env"))):
                with self.subTest(kind=kind, opt=opt):
                    self.assertEnds(vmm("run", opt, value, self.image(image)), "BAD_IMAGE",
                                    rf"{opt}: only a multiboot kernel or a bzImage takes a command line and an "
                                    rf"initrd; this is a {kind} image")

    # ---- a Linux bzImage
    def test_bzimage_zero_page(self):
        # The guest checks the E820 map and the command line it was given.
        self.assertEnds(vmm("run", "--timeout", "10", "--append", "kvmlabs", "--initrd",
                            self.image(b"initrd", "initrd"), self.image(bzimage(), "bz")), GUEST_PASSED,
                        r"guest exit through port 0xf4 with value 0")
        self.assertEnds(vmm("run", "--timeout", "10", "--append", "other", self.image(bzimage(), "bz")),
                        GUEST_FAILED, r"guest exit through port 0xf4 with value 1")

    def test_bzimage_errors(self):
        for image, msg in (
                (bzimage(version=0x0206), r"a bzImage of boot protocol 2\.06 without the 64-bit entry"),
                (bzimage(xloadflags=0), r"a bzImage of boot protocol 2\.15 without the 64-bit entry"),
                (bzimage(setup_sects=200), r"bzImage: its setup code \(\d+ bytes\) is the whole file"),
                (bzimage(init_size=64 << 20), r"(does not fit|beyond|outside|RAM)")):
            with self.subTest(msg=msg):
                self.assertEnds(vmm("run", self.image(image, "bz")), "BAD_IMAGE", msg)
        self.assertEnds(vmm("run", "--append", "x" * 3000, self.image(bzimage(), "bz")), "BAD_IMAGE",
                        r"the kernel command line is longer than the 2048 bytes this kernel takes")
        self.assertEnds(vmm("run", "--mem", "2M", "--initrd", self.image(b"x" * (1 << 20), "big"),
                            self.image(bzimage(), "bz")), "BAD_IMAGE",
                        r"--initrd: 1048576 bytes do not fit between the kernel and the top of RAM")

    # ---- --ap-start
    def test_ap_start_values(self):
        self.assertEnds(vmm("run", "--ap-start", "bios", self.image(PASS_CODE)), "USAGE",
                        r"--ap-start takes entry or sipi, not 'bios'")
        self.assertIn("--ap-start", vmm("--help")[1])

    def test_sipi_needs_the_irqchip(self):
        self.assertEnds(vmm("run", "--cpus", "2", "--no-irqchip", self.image(multiboot_elf())), "USAGE",
                        r"would wait for INIT-SIPI, which needs the in-kernel irqchip .*: drop --no-irqchip; "
                        r"or start them at the entry with --ap-start=entry")

    def test_kit_abi_multiboot_guest_with_entry_start(self):
        # Explicitly asked for, a multiboot kernel's vCPUs all start at the entry, without an irqchip too.
        self.assertEnds(vmm("run", "--cpus", "2", "--no-irqchip", "--ap-start=entry", self.image(multiboot_elf())),
                        GUEST_PASSED, r"guest exit through port 0xf4")

    # ---- the protocol guests (the kvm-unit-tests' boot protocol, grader/guests/kut-*.c)
    def kut_run(self, guest, *args):
        data = b"NR_CPUS=2\nMEMSIZE=64\nTEST_DEVICE=0\n"
        code, out, err = vmm("run", "--timeout", "20", *args, "--initrd", self.image(data, "env"),
                             "--append", f"env-size={len(data)}", self.guest(guest), timeout=60)
        self.assertNotIn("not ok", out)
        return code, out, err

    def test_protocol_guests_pass(self):
        for guest, args in (("kut-boot.elf", ("--cpus", "2", "--mem", "64M")),
                            ("kut-sipi.elf", ("--cpus", "2", "--mem", "64M"))):
            with self.subTest(guest=guest):
                self.assertEnds(self.kut_run(guest, *args), GUEST_PASSED, r"guest exit through port 0xf4")

    def test_protocol_guest_catches_a_wrong_cpu_count(self):
        # fw_cfg says 1 CPU, the environment 2: the guest must notice.
        code, out, err = vmm("run", "--timeout", "20", "--mem", "64M", "--initrd",
                             self.image(b"NR_CPUS=2\nMEMSIZE=64\n", "env"), self.guest("kut-boot.elf"), timeout=60)
        self.assertEqual(code, GUEST_FAILED, err)
        self.assertRegex(out, r"not ok fw-cfg-nb-cpus")


if __name__ == "__main__":
    unittest.main()
