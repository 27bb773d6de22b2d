#!/usr/bin/env python3
"""Seed corpus of a fuzz target, written from the kit's guest images at build time.

    seeds.py loader GUEST_DIR OUT_DIR

loader: each image behind fuzz/loader.c's 20-byte option header, with the
options the rubric runs it with (none: the mode comes from the image) and a
few more (a flat binary in each mode, --load, --entry, the smallest --mem,
a multiboot kernel with --append and --initrd),
plus images built here to stand at the loader's edges: a file that is only
the ELF magic, truncated headers, program headers past the end, multiboot
headers at the end of the search window and with the a.out kludge.
"""
import struct
import sys
from pathlib import Path

MODE = {"auto": 0, "real": 1, "prot": 2, "long": 3}
MB_MAGIC = 0x1BADB002
MB_AOUT = 1 << 16


AP_START = {"auto": 0, "entry": 1, "sipi": 2}


def header(mode="auto", mem_mib=16, load=None, entry=None, ap_start="auto", append=None, initrd=None,
           initrd_slashes=0, padding=0):
    """fuzz/loader.c's option header; append (bytes) and initrd (bytes) follow the image."""
    flags0 = MODE[mode] | (4 if load is not None else 0) | (8 if entry is not None else 0) | ((mem_mib - 1) << 4)
    flags1 = (AP_START[ap_start] | (4 if append is not None else 0) | (8 if initrd is not None else 0) |
              (initrd_slashes << 4))
    lengths = len(append or b"") | padding << 14
    return struct.pack("<BBHIQI", flags0, flags1, lengths, load or 0, entry or 0, len(initrd or b""))


def with_files(image, append=None, initrd=None, **opts):
    return header(append=append, initrd=initrd, **opts) + image + (initrd or b"") + (append or b"")


def elf32(entry=0x100000, segs=((0x1000, 0x100000, 16, 32),), phnum=None, size=None):
    """An i386 ET_EXEC with PT_LOAD segments (offset, paddr, filesz, memsz)."""
    ph = b"".join(struct.pack("<8I", 1, off, pa, pa, fs, ms, 5, 0x1000) for off, pa, fs, ms in segs)
    eh = (b"\x7fELF\x01\x01\x01" + bytes(9) +
          struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, 52, 0, 0, 52, 32, phnum if phnum is not None else len(segs),
                      40, 0, 0))
    img = bytearray(eh + ph)
    end = max([off + fs for off, _, fs, _ in segs] + [len(img)])
    img += bytes(max(0, end - len(img)))
    return bytes(img[:size] if size is not None else img)


def elf64(entry=0x100000, segs=((0x1000, 0x100000, 16, 32),)):
    ph = b"".join(struct.pack("<IIQQQQQQ", 1, 5, off, pa, pa, fs, ms, 0x1000) for off, pa, fs, ms in segs)
    eh = (b"\x7fELF\x02\x01\x01" + bytes(9) +
          struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0, 0, 64, 56, len(segs), 64, 0, 0))
    img = bytearray(eh + ph)
    end = max([off + fs for off, _, fs, _ in segs] + [len(img)])
    img += bytes(max(0, end - len(img)))
    return bytes(img)


def multiboot(flags=0, addrs=None, at=0, size=None):
    """A multiboot v1 header at offset `at` (spec 3.1.1), with the a.out kludge's
    addresses (header, load, load_end, bss_end, entry) when given."""
    h = struct.pack("<3I", MB_MAGIC, flags, (-(MB_MAGIC + flags)) & 0xFFFFFFFF)
    if addrs is not None:
        h += struct.pack("<5I", *addrs)
    img = bytearray(at) + h
    if size is not None:
        img = img[:size] + bytes(max(0, size - len(img)))
    return bytes(img)


def with_multiboot(img, at):
    img = bytearray(img)
    img[at:at + 12] = multiboot()
    return bytes(img)


def loader_edges():
    yield "elf-magic-only", header(), b"\x7fELF"
    yield "elf-magic-class", header(), b"\x7fELF\x01"
    yield "elf32-truncated-header", header(), elf32()[:40]
    yield "elf64-truncated-header", header(), elf64()[:60]
    yield "elf32-phdrs-past-end", header(), elf32(phnum=200)
    yield "elf32-segment-past-file", header(), elf32(segs=((0x1000, 0x100000, 0x10000, 0x10000),), size=0x1010)
    yield "elf32-segment-past-ram", header(mem_mib=1), elf32(segs=((0x1000, 0xFFFF0, 16, 0x20),))
    yield "elf32-segment-in-rom", header(), elf32(segs=((0x1000, 0xFFFF0000, 16, 16),))
    yield "elf32-entry-outside", header(), elf32(entry=0xC0000000)
    yield "elf64-two-segments", header(), elf64(segs=((0x1000, 0x100000, 16, 16), (0x1010, 0x200000, 16, 0x2000)))
    yield "mb-elf64", header(), with_multiboot(elf64(), 0x100)
    yield "mb-elf32-truncated", header(), with_multiboot(elf32(), 0x100)[:0x110]
    yield "mb-at-window-end", header(), multiboot(at=8192 - 12)
    yield "mb-past-window", header(), multiboot(at=8192)
    yield "mb-no-aout-not-elf", header(), multiboot()
    yield "mb-aout", header(), multiboot(MB_AOUT, (0x100000, 0x100000, 0x100040, 0x101000, 0x100020), size=0x40)
    yield "mb-aout-short", header(), multiboot(MB_AOUT, (0x100000, 0x100000, 0, 0, 0x100000))[:20]
    yield "mb-aout-header-before-load", header(), multiboot(MB_AOUT, (0x100000, 0x100010, 0, 0, 0x100010))
    yield "mb-aout-load-end-before-load", header(), multiboot(MB_AOUT, (0x100000, 0x100000, 0xFFFFF, 0, 0x100000))
    yield "flat-real-high-entry", header("real", entry=0x100000), b"\xf4"
    yield "flat-long-load", header("long", load=0x200000), b"\xf4" * 16
    yield "flat-load-at-ram-end", header("prot", mem_mib=1, load=0xFFFFF), b"\xf4\xf4"
    yield "empty", header(), b""
    mb = with_multiboot(elf32(), 0x1000)
    yield "mb-initrd-append", b"", with_files(mb, append=b"arg1 arg2", initrd=b"NR_CPUS=1\nMEMSIZE=16\n")
    yield "mb-initrd-empty", b"", with_files(mb, initrd=b"")
    yield "mb-initrd-long-name", b"", with_files(mb, initrd=b"x", initrd_slashes=15)
    yield "mb-append-too-long", b"", with_files(mb, append=b"a" * 5000)
    yield "image-larger-than-ram", header(padding=1), mb
    yield "mb-initrd-past-ram", b"", with_files(mb, initrd=b"x", mem_mib=2, padding=2)
    yield "mb-initrd-larger-than-ram", b"", with_files(mb, initrd=b"x", mem_mib=2, padding=3)
    yield "flat-with-append", b"", with_files(b"\xf4", append=b"x")
    yield "elf-with-initrd", b"", with_files(elf32(), initrd=b"x", ap_start="sipi")


def loader(guests, out):
    for img in sorted(guests.glob("*.elf")) + sorted(guests.glob("*.bin")):
        data = img.read_bytes()
        (out / img.stem).write_bytes(header() + data)
        if img.suffix == ".bin":
            for mode, load in (("prot", 0x100000), ("long", 0x100000), ("real", 0x1000)):
                (out / f"{img.stem}-{mode}").write_bytes(header(mode, load=load) + data)
        else:
            (out / f"{img.stem}-entry").write_bytes(header(entry=0x100000) + data)
            (out / f"{img.stem}-mem1").write_bytes(header(mem_mib=1) + data)
            if img.stem.startswith(("mb-", "kut-")):
                (out / f"{img.stem}-files").write_bytes(
                    with_files(data, append=b"-smp 2 arg", initrd=b"NR_CPUS=2\nMEMSIZE=16\nTEST_DEVICE=0\n"))
    for name, head, body in loader_edges():
        (out / f"edge-{name}").write_bytes(head + body)


def main(argv):
    if len(argv) != 3 or argv[0] != "loader":
        sys.exit(__doc__)
    guests, out = Path(argv[1]), Path(argv[2])
    if not any(guests.glob("*.elf")):
        sys.exit(f"seeds.py: no guest images in {guests} (make guests first)")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    loader(guests, out)
    print(f"seeds.py: {sum(1 for _ in out.iterdir())} {argv[0]} seeds in {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
