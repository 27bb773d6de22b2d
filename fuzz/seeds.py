#!/usr/bin/env python3
"""Seed corpus of a fuzz target, written at build time.

    seeds.py loader GUEST_DIR OUT_DIR
    seeds.py mmu OUT_DIR
    seeds.py emulate OUT_DIR
    seeds.py virtqueue OUT_DIR
    seeds.py virtio_blk OUT_DIR

loader: each image behind fuzz/loader.c's 20-byte option header, with the
options the rubric runs it with (none: the mode comes from the image) and a
few more (a flat binary in each mode, --load, --entry, the smallest --mem,
a multiboot kernel with --append and --initrd),
plus images built here to stand at the loader's edges: a file that is only
the ELF magic, truncated headers, program headers past the end, multiboot
headers at the end of the search window and with the a.out kludge.

mmu: guests in fuzz/mmu.c's encoding, for each paging mode: a few pages
mapped and touched at CPL 0 and 3, a table mapped into its own address
space and written through it, a recursive top-level entry, entries with
reserved bits and entries outside memory, large pages, two address spaces
switched by CR3 with INVLPG, the dirty log, a second memslot coming and
going with tables in it, one page mapped at many addresses, CR0.WP, CR4.PSE
and EFER.NXE changes, the host running out of pages; and in TDP mode (EPT):
RAM at 4 KiB and 2 MiB, MMIO and its fast path, a slot plugged in where
MMIO sptes were, read-only, logged, skewed and moved slots, the generation
at its wrap, hostile error codes, zaps, reloads and the host out of pages.

emulate: fuzz/emulate.c's 4-byte header and an instruction: each form the
emulator handles (register and memory operands, SIB, RIP-relative, moffs,
immediates, prefixes and REX), in 64-, 32- and 16-bit mode, and the edges:
15 bytes exactly and one more, truncated forms, LOCK where it is #UD.

virtqueue: fuzz/virtqueue.c's header, operations and guest memory: a
1-buffer chain, an out+in chain, an indirect table, the ring's wrap and the
16-bit indices' wrap, with and without EVENT_IDX; and the driver's errors: a
loop, a readable buffer after a writable one, a head >= the queue size, an
avail index too far ahead, a buffer outside memory, misaligned parts, a size
that is not a power of 2; and the guest's RAM unplugged under a working queue.

virtio_blk: fuzz/virtio_blk.c's header, operations and guest RAM: a correct
bring-up, then a read, a write read back, FLUSH, GET_ID (short, exact, a
long name), an indirect request, each framing (one descriptor per part,
merged, split at odd lengths), EVENT_IDX with interrupts acknowledged, the
ring's wrap; requests past the capacity, at a huge sector, with a short
header, an unknown type or no status byte; every register and the
configuration read at each width; and a hostile driver: a descriptor loop, a
buffer outside RAM, a readable buffer after a writable one, a head >= the
queue size, a chain longer than the device takes, an avail index far ahead,
the status steps out of order, features not offered, queues of bad sizes,
misaligned, past RAM or at 64-bit addresses, a ready queue's registers
rewritten, rings that overlap, requests after DEVICE_NEEDS_RESET, a disk the
host refuses, a disk whose every request fails.
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


# ---- mmu: fuzz/mmu.c's encoding --------------------------------------------------

IDX_CHOICE = (0, 1, 2, 3, 4, 5, 6, 7, 255, 256, 510, 511, 512, 767, 1022, 1023)
P, W, U, PWT, PCD, A, D, PS = (1 << i for i in range(8))
LEVELS = {2: 0, 3: 1, 4: 2}
TABLES = 32   # MAP's new tables from page 33 on; data pages below


def idx(i, n):
    """The index byte that selects entry i of an n-entry table."""
    for b in range(256):
        if (IDX_CHOICE[b & 15] + (b >> 4)) % n == i:
            return b
    raise ValueError(f"no index byte for {i}")


class Guest:
    def __init__(self, levels, wp=True, pse=True, nx=True, gbpages=True, log0=False, slot1=False, maxphy=0,
                 cr3=TABLES, pdpt_slot=0):
        self.levels = levels
        flags = LEVELS[levels] | wp << 2 | pse << 3 | nx << 4 | gbpages << 5 | log0 << 6 | slot1 << 7
        self.data = bytearray([flags, maxphy, cr3, pdpt_slot, 0, 0, 0, 0])

    def n(self):
        return 1024 if self.levels == 2 else 512

    def va(self, l4=0, l3=0, l2=0, l1=0, slot=0):
        """Index bytes of an address (PAE: l3 is the PDPTE, 0-3)."""
        l3b = l3 & 3 if self.levels == 3 else idx(l3, 512)
        return bytes([idx(l4, 512), l3b, idx(l2, self.n()), idx(l1, self.n()), idx(slot, 4096 // (4 if self.levels == 2 else 8))])

    def set(self, page, i, entry):
        self.data += bytes([0x00, page, idx(i, self.n())]) + entry
        return self

    def map(self, va, entry, level=1, tflags=P | W | U, tpage=TABLES, no_ps=False):
        self.data += bytes([((level - 1) | no_ps << 2) << 4 | 1]) + va + entry + bytes([tflags, tpage])
        return self

    def access(self, va, kind="read", cpl3=False):
        t = {"read": 0, "write": 1, "fetch": 2}[kind]
        self.data += bytes([(t | cpl3 << 2) << 4 | 2]) + va
        return self

    def store(self, va, entry, cpl3=False):
        self.data += bytes([(cpl3 << 2) << 4 | 3]) + va + entry
        return self

    def op(self, kind, param=0, args=b""):
        self.data += bytes([param << 4 | kind]) + args
        return self

    def cr3(self, page, slot=0):
        return self.op(4, 0, bytes([page, slot]))

    def invlpg(self, va):
        return self.op(5, 0, va)

    def touch(self, va, cpl3=False):
        for kind in ("read", "write", "fetch"):
            self.access(va, kind, cpl3)
        return self


def entry(page, flags=P | W | U, xd=False, extra_bit=0):
    return bytes([page, flags, xd | extra_bit << 4])


def mmu_seeds():
    for levels in (2, 3, 4):
        m = f"{levels}l"
        g = Guest(levels)
        for i, (va, fl) in enumerate(((g.va(0, 0, 1, 0), P | W | U), (g.va(0, 0, 1, 1), P | U),
                                      (g.va(0, 0, 1, 2), P | W), (g.va(1, 1, 2, 3), P | W | U | A | D))):
            g.map(va, entry(1 + i, fl, xd=i == 2))
        for va in (g.va(0, 0, 1, 0), g.va(0, 0, 1, 1), g.va(0, 0, 1, 2), g.va(1, 1, 2, 3)):
            g.touch(va).touch(va, cpl3=True)
        yield f"{m}-hello", g.data

        # A page table mapped into its own address space, then written through it.
        g = Guest(levels)
        g.map(g.va(0, 0, 1, 0), entry(1))
        g.map(g.va(0, 0, 1, 1), entry(TABLES + levels - 1 - (levels == 3)))   # the PT made above
        g.access(g.va(0, 0, 1, 0)).store(g.va(0, 0, 1, 1, slot=0), entry(2)).access(g.va(0, 0, 1, 0))
        g.store(g.va(0, 0, 1, 1, slot=5), entry(3)).access(g.va(0, 0, 1, 5), "write")
        yield f"{m}-edits-own-table", g.data

        # The top table maps itself (recursive entry): loops through the walk.
        g = Guest(levels, cr3=TABLES)
        g.map(g.va(0, 0, 1, 0), entry(1))
        g.set(TABLES, 511 if levels == 4 else 1023 if levels == 2 else 0, entry(TABLES))
        top = g.va(511, 511, 511, 511) if levels == 4 else g.va(0, 3, g.n() - 1, g.n() - 1)
        g.access(top).access(top, "write").access(g.va(511, 0, 0, 0)).access(g.va(0, 0, 1, 0), "write")
        yield f"{m}-recursive", g.data

        # Reserved bits, entries outside memory, a root outside memory.
        g = Guest(levels, maxphy=0)
        for i, bit in enumerate(range(1, 16)):
            g.map(g.va(0, 0, 1, i), entry(1 + i % 8, extra_bit=bit))
        g.map(g.va(0, 0, 2, 0), entry(0xf3))
        g.map(g.va(0, 0, 2, 1), entry(0xe1))
        for i in range(15):
            g.access(g.va(0, 0, 1, i), "write", cpl3=i & 1)
        g.access(g.va(0, 0, 2, 0)).access(g.va(0, 0, 2, 1)).cr3(0xf2)
        yield f"{m}-bad-entries", g.data

        # Large pages (and 1 GiB ones in 4-level paging).
        g = Guest(levels)
        g.map(g.va(0, 1, 2, 0), entry(0, P | W | U), level=2)
        g.map(g.va(0, 1, 3, 0), entry(0, P | W | U | D), level=2)
        if levels == 4:
            g.map(g.va(2, 3, 0, 0), entry(0), level=3)
        g.access(g.va(0, 1, 2, 5)).access(g.va(0, 1, 3, 5), "write").access(g.va(0, 1, 2, 5), "write")
        g.access(g.va(0, 1, 2, 21), "write", cpl3=True).access(g.va(0, 1, 2, 22)).access(g.va(2, 3, 0, 7), "write")
        yield f"{m}-large-pages", g.data

        # Two address spaces, switched; INVLPG; unprotect.
        g = Guest(levels, cr3=TABLES)
        g.map(g.va(0, 0, 1, 0), entry(1))
        g.set(TABLES + 16, 0, entry(0, 0))
        g.access(g.va(0, 0, 1, 0), "write").cr3(TABLES + 16).cr3(TABLES).invlpg(g.va(0, 0, 1, 0))
        g.access(g.va(0, 0, 1, 0)).op(6, 0, bytes([TABLES + 1])).access(g.va(0, 0, 1, 0), "write")
        g.op(11).access(g.va(0, 0, 1, 0))
        yield f"{m}-cr3-invlpg", g.data

        # The dirty log; a second slot with tables in it.
        g = Guest(levels, log0=True, slot1=True)
        g.map(g.va(0, 0, 1, 0), entry(1)).map(g.va(0, 0, 1, 1), entry(0xe2)).map(g.va(0, 0, 3, 0), entry(1), tpage=0xe0)
        g.access(g.va(0, 0, 1, 0), "write").op(7, 0).access(g.va(0, 0, 1, 0), "write").op(7, 0)
        g.access(g.va(0, 0, 1, 1), "write").access(g.va(0, 0, 3, 0)).op(7, 3).access(g.va(0, 0, 1, 1), "write")
        g.op(7, 1).op(8, 2).access(g.va(0, 0, 3, 0)).op(8, 1).access(g.va(0, 0, 3, 0)).op(8, 0, b"\x01")
        g.access(g.va(0, 0, 1, 1), "write").op(7, 2).access(g.va(0, 0, 1, 0), "write")
        yield f"{m}-dirty-log-slots", g.data

        # One page at many addresses: the rmap's chains; then the bound.
        g = Guest(levels)
        for i in range(40):
            g.map(g.va(0, i % 4, i % 8, i % 23), entry(1), tpage=TABLES + (i % 16))
        for i in range(20):
            g.access(g.va(0, i % 4, i % 8, i % 23), "write" if i & 1 else "read")
        yield f"{m}-aliases", g.data

        # More shadow pages than the bound (64): page tables reached through
        # directory entries with different rights, a shadow page for each.
        if levels > 2:
            g = Guest(levels)
            slots = list(range(23)) + list(range(255, 272)) + [510, 511]
            for pt in range(1, 22):
                g.set(pt, 0, entry(40))
            g.map(g.va(0, 0, 0, 0), entry(40)).map(g.va(0, 1, 0, 0), entry(40))   # the PDs
            pds = (TABLES + 2, TABLES + 4) if levels == 4 else (TABLES + 1, TABLES + 3)
            pairs = [(pt, fl) for fl in (P | W | U, P | U, P | W, P) for pt in range(1, 22)]
            for n, (pt, fl) in enumerate(pairs):
                g.set(pds[n // 42], slots[n % 42], entry(pt, fl))
            for n in range(len(pairs)):
                g.access(g.va(0, n // 42, slots[n % 42], 0))
            yield f"{m}-bound", g.data

        # CR0.WP, CR4.PSE, EFER.NXE; the host out of pages.
        g = Guest(levels, wp=False)
        g.map(g.va(0, 0, 1, 0), entry(1, P | U)).map(g.va(0, 0, 1, 1), entry(2, P | W, xd=True))
        g.access(g.va(0, 0, 1, 0), "write").access(g.va(0, 0, 1, 0), cpl3=True).op(9, 1)
        g.access(g.va(0, 0, 1, 0), "write").op(9, 4).access(g.va(0, 0, 1, 1), "fetch").op(9, 2)
        g.op(10, 0, b"\x02").access(g.va(0, 0, 1, 1)).access(g.va(1, 1, 2, 2))
        yield f"{m}-modes-oom", g.data


# TDP mode: guest-physical accesses; a gpa is 5 bytes (fuzz/mmu.c tdp_gpa).
RAM, SLOT1, SLOT2, FAR, TOP = 0, 2, 3, 4, 5


class Tdp:
    def __init__(self, no_2m=False, gen=0, log0=False, slot1=False):
        self.data = bytearray([log0 << 6 | slot1 << 7, 0, 0, 0, 1 | no_2m << 1, gen, 0, 0])

    @staticmethod
    def gpa(region, page, off=0):
        """page: a gfn offset in the region (FAR: the whole 32-bit gfn)."""
        if region == FAR:
            return bytes([region, page & 0xff, page >> 8 & 0xff, page >> 16 & 0xff, page >> 24 & 0xff])
        return bytes([region, page & 0xff, page >> 8 & 0xff, off >> 4 & 0xff, 0])

    def op(self, kind, param=0, args=b""):
        sizes = (5, 10, 5, 8, 2, 5, 1, 0, 1, 0, 1, 0, 5, 5, 5, 5)
        self.data += bytes([param << 4 | kind]) + args.ljust(sizes[kind], b"\0")
        return self

    def access(self, region, page, kind="read", off=0):
        return self.op(2, {"read": 0, "write": 1, "fetch": 2}[kind], self.gpa(region, page, off))

    def fault(self, region, page, ec):
        return self.op(3, ec, self.gpa(region, page))


def tdp_seeds():
    t = Tdp()
    for page, kind in ((1, "read"), (1, "write"), (0x1ff, "fetch"), (0x200, "write"), (0x3ff, "read")):
        t.access(RAM, page, kind)
    yield "tdp-ram", t.data

    t = Tdp(no_2m=True)
    for page in range(0, 64, 3):
        t.access(RAM, page * 7, "write" if page & 1 else "read")
    yield "tdp-4k-only", t.data

    # MMIO: a violation makes the MMIO spte, the next access is the fast path;
    # then RAM is plugged in there and the stale spte must go.
    t = Tdp()
    t.access(SLOT1, 5).access(SLOT1, 5, "write").access(SLOT1, 6).access(FAR, 0xfee00).access(FAR, 0xfee00)
    t.op(8, 0, b"\0").access(SLOT1, 5).access(SLOT1, 5, "write").access(SLOT1, 0x205)
    t.op(8, 2).access(SLOT1, 5).access(SLOT1, 0x305, "write").op(8, 1).access(SLOT1, 0x305)
    yield "tdp-mmio-then-ram", t.data

    # Read-only, logged and skewed slots; the dirty log.
    t = Tdp(log0=True)
    t.op(8, 0, b"\x01").access(SLOT1, 1).access(SLOT1, 1, "write").op(8, 1)
    t.op(8, 0, b"\x02").access(SLOT1, 2).access(SLOT1, 2, "write").op(7, 1).access(SLOT1, 2, "write")
    t.access(RAM, 3, "write").op(7, 0).access(RAM, 3, "write").op(7, 2).access(RAM, 0x100)
    t.op(8, 1).op(8, 0, b"\x04").access(SLOT1, 0x1ff, "write").op(8, 3).access(SLOT2, 8).access(SLOT2, 9, "write")
    yield "tdp-slots-dirty-log", t.data

    # The generation at the wrap of what an MMIO spte holds.
    t = Tdp(gen=3)
    t.access(FAR, 0x123456).op(8, 3).access(FAR, 0x123456).op(8, 3).access(FAR, 0x123456).access(SLOT2, 8)
    yield "tdp-generation-wrap", t.data

    # Hostile error codes, zaps, reloads, the host out of pages, the bound.
    t = Tdp()
    t.access(RAM, 7).fault(RAM, 7, 8).fault(FAR, 0x777, 8).access(FAR, 0x777).fault(FAR, 0x777, 8)
    t.fault(RAM, 9, 3).fault(SLOT1, 1, 1).op(9).access(RAM, 7).op(4).access(RAM, 8).op(11).access(TOP, 0)
    for i in range(80):
        t.access(FAR, 0x100000 + i * 0x201)
    t.op(10, 0, b"\x03").access(FAR, 0x7000000).access(RAM, 0x300)
    yield "tdp-hostile-bound-oom", t.data


def mmu(out):
    for name, data in mmu_seeds():
        (out / name).write_bytes(bytes(data))
    for name, data in tdp_seeds():
        (out / name).write_bytes(bytes(data))


# ---- emulate: fuzz/emulate.c's encoding ------------------------------------------------

EMU_FORMS = [
    "89 08", "4f 8b 4c 9a 10", "66 8b 05 00 01 00 00", "67 81 83 78 56 34 12 44 33 22 11", "48 83 c0 ff",
    "48 c7 c0 00 00 00 80", "89 04 25 00 80 00 00", "41 89 45 00", "41 89 04 24", "0f b6 06", "0f be 06",
    "66 0f b7 06", "48 0f bf 06", "0f ba 27 05", "0f ba 2f 21", "0f ba 37 3f", "0f ba 3f 00", "0f a3 0b",
    "48 0f ab 0b", "0f b3 4b f0", "66 0f bb 0b", "a0 00 80 00 00 00 00 00 00", "a3 10 80 00 00 00 00 00 00",
    "67 a1 20 80 00 00", "00 03", "01 03", "02 03", "03 03", "04 7f", "05 ff ff ff 7f", "10 03", "19 03",
    "22 03", "2b 03", "34 80", "35 01 00 00 80", "38 03", "3b 03", "80 03 01", "81 33 78 56 34 12",
    "83 3b ff", "84 03", "85 03", "86 03", "87 03", "88 03", "8a 23", "40 8a 23", "c6 03 7f",
    "c7 03 ff ff ff ff", "f6 03 80", "f6 13", "f7 1b", "fe 03", "fe 0b", "ff 03", "48 ff 0b",
    "0f b0 0b", "0f b1 0b", "f0 0f b1 0b", "f0 01 03", "f0 01 c0", "f0 89 03", "65 89 03", "26 89 03",
    "f3 89 03", "48 66 89 c0", "66 66 66 66 66 66 66 66 66 66 66 66 66 89 c0",
    "66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 c0", "0f 0b", "90", "f7 e0",
    # string instructions, REP, INS/OUTS, the stack, XADD, CMPXCHG8B
    "a4", "48 a5", "f3 a4", "f3 48 a5", "67 f3 a5", "fd f3 aa", "f3 ab", "ac", "f3 66 ad", "f3 a6", "f2 a7",
    "f3 ae", "f2 48 af", "6c", "f3 6d", "6e", "f3 66 6f", "50", "41 57", "58", "41 5f", "66 50", "68 78 56 34 12",
    "6a ff", "ff 33", "ff 74 24 08", "8f 03", "8f 04 24", "0f c0 03", "f0 48 0f c1 03", "0f c7 0b", "f0 0f c7 0b",
    "48 0f c7 0b", "0f c7 cb",
]


def emulate_seeds():
    for i, form in enumerate(EMU_FORMS):
        insn = bytes.fromhex(form)
        for mode in (4, 3, 2):
            yield f"{i:02d}-mode{mode}", bytes([mode, 0x41, 8, 0]) + insn
        yield f"{i:02d}-cut", bytes([4, 0, 8, 0]) + insn[:-1]
    yield "ds-unusable", bytes([3 | 0x08, 0, 8, 0]) + bytes.fromhex("89 03")
    yield "io-needed", bytes([4 | 0x10, 0, 8, 0]) + bytes.fromhex("03 03")
    yield "no-mmio-ops", bytes([4 | 0x20, 0, 8, 0]) + bytes.fromhex("03 03")
    yield "ds-limit-16", bytes([2 | 0x40, 0, 0xff, 0]) + bytes.fromhex("66 89 03")
    yield "rip-top", bytes([4 | 0x80, 0, 8, 0]) + bytes.fromhex("89 03 90 90 90 90 90 90 90 90")
    yield "rip-top-16", bytes([0 | 0x80, 0, 8, 0]) + bytes.fromhex("89 07 90 90 90 90 90 90 90 90")
    yield "noncanonical", bytes([4, 0, 8, 0xff]) + bytes.fromhex("41 89 03")
    yield "rep-io-needed", bytes([4 | 0x10, 0, 8, 0]) + bytes.fromhex("f3 a6")
    yield "ins-io-needed", bytes([4 | 0x10, 0, 8, 0]) + bytes.fromhex("f3 6d")


def emulate(out):
    for name, data in emulate_seeds():
        (out / name).write_bytes(data)


# ---- virtqueue: fuzz/virtqueue.c's encoding ----------------------------------------------

VQ_BASE = 0x100000
VQ_DESC, VQ_AVAIL, VQ_USED, VQ_BUFS = 0x000, 0x100, 0x200, 0x400   # offsets in guest memory
VQ_EVENT_IDX, VQ_INDIRECT, VQ_NOT_POW2, VQ_WRAP16 = 0x10, 0x20, 0x40, 0x80
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
POP, PUSH, NOTIFY, ENABLE, DISABLE, AVAIL, BUMP, BAD_PUSH = range(8)


def vq_op(kind, a=0):
    return bytes([kind | a << 3])


class Ring:
    """A guest memory image holding a split ring of `num` entries (virtio 1.2 §2.7)."""

    def __init__(self, num=8, flags=0, desc=VQ_DESC, avail=VQ_AVAIL, used=VQ_USED):
        self.num, self.flags, self.offs = num, flags, (desc, avail, used)
        self.mem = bytearray(VQ_BUFS + 0x400)
        self.ops = b""

    def desc(self, i, off, length, flags=0, nxt=0, table=None):
        struct.pack_into("<QIHH", self.mem, (table if table is not None else self.offs[0]) + 16 * i,
                         VQ_BASE + off, length, flags, nxt)
        return self

    def avail(self, *heads, idx=None, flags=0, used_event=0):
        a = self.offs[1]
        struct.pack_into("<HH", self.mem, a, flags, idx if idx is not None else len(heads))
        start = (idx - len(heads)) if idx is not None else 0
        for k, h in enumerate(heads):
            struct.pack_into("<H", self.mem, a + 4 + 2 * ((start + k) % self.num), h)
        struct.pack_into("<H", self.mem, a + 4 + 2 * self.num, used_event)
        return self

    def run(self, *ops):
        self.ops += b"".join(vq_op(*o) if isinstance(o, tuple) else vq_op(o) for o in ops)
        return self

    def data(self):
        log2 = (self.num - 1).bit_length()
        head = bytes([log2 | self.flags, len(self.ops)]) + struct.pack("<3H", *self.offs)
        return head + self.ops + bytes(self.mem)


def vq_seeds():
    use = (POP, (PUSH, 16), NOTIFY, ENABLE, POP, DISABLE, NOTIFY)
    for feat, name in ((0, ""), (VQ_EVENT_IDX, "-event-idx")):
        r = Ring(flags=feat).desc(0, VQ_BUFS, 64).avail(0).run(*use)
        yield "one-buffer" + name, r.data()
        r = Ring(flags=feat).desc(3, VQ_BUFS, 16, F_NEXT, 5).desc(5, VQ_BUFS + 0x100, 512, F_WRITE).avail(3)
        yield "out-in" + name, r.run(*use).data()
        r = Ring(flags=feat | VQ_INDIRECT).desc(0, VQ_BUFS, 16, F_NEXT, 1).desc(1, 0x300, 48, F_INDIRECT)
        r.desc(0, VQ_BUFS + 0x10, 16, F_NEXT, 2, table=0x300).desc(2, VQ_BUFS + 0x20, 16, F_NEXT, 1, table=0x300)
        r.desc(1, VQ_BUFS + 0x100, 256, F_WRITE, table=0x300)
        yield "indirect" + name, r.avail(0).run(*use).data()
        # The ring's wrap: two entries, the driver adding one chain after another.
        r = Ring(num=2, flags=feat).desc(0, VQ_BUFS, 8).desc(1, VQ_BUFS + 8, 8, F_WRITE).avail(0, 1)
        r.run(POP, POP, (PUSH, 1), (PUSH, 8), NOTIFY, (AVAIL, 1), ENABLE, POP, (PUSH, 2), (AVAIL, 0), (AVAIL, 1),
              POP, POP, (PUSH, 0), NOTIFY, (PUSH, 0), NOTIFY, (BAD_PUSH, 3))
        yield "wrap" + name, r.data()
        # The 16-bit indices' wrap: the device at 0xfffe, the driver at 0x0001.
        r = Ring(num=4, flags=feat | VQ_WRAP16).desc(0, VQ_BUFS, 8).desc(1, VQ_BUFS, 8).desc(2, VQ_BUFS, 8)
        r.avail(0, 1, 2, idx=0x0001, used_event=0xffff).run(POP, (PUSH, 1), NOTIFY, POP, POP, (PUSH, 2), (PUSH, 3),
                                                            NOTIFY, POP, ENABLE, NOTIFY)
        yield "wrap16" + name, r.data()
    yield "no-interrupt", Ring().desc(0, VQ_BUFS, 8).avail(0, flags=1).run(POP, PUSH, NOTIFY, DISABLE).data()
    yield "loop", Ring().desc(0, VQ_BUFS, 8, F_NEXT, 1).desc(1, VQ_BUFS, 8, F_NEXT, 0).avail(0).run(
        POP, POP, PUSH, NOTIFY, ENABLE).data()
    yield "read-after-write", Ring().desc(0, VQ_BUFS, 8, F_WRITE | F_NEXT, 1).desc(1, VQ_BUFS, 8).avail(0).run(
        POP, POP).data()
    yield "head-too-big", Ring().avail(8).run(POP, POP).data()
    yield "avail-too-far", Ring().avail(0, idx=9).run(POP).data()
    yield "buffer-outside", Ring().desc(0, 0xfff8, 16).avail(0).run(POP).data()
    yield "zero-length", Ring().desc(0, 0x7fff0000, 0, F_NEXT, 1).desc(1, VQ_BUFS, 4).avail(0).run(POP, PUSH).data()
    yield "indirect-in-indirect", Ring(flags=VQ_INDIRECT).desc(0, 0x300, 32, F_INDIRECT).desc(
        0, 0x300, 32, F_INDIRECT, table=0x300).avail(0).run(POP).data()
    yield "indirect-without-feature", Ring().desc(0, 0x300, 16, F_INDIRECT).avail(0).run(POP).data()
    yield "misaligned", Ring(avail=VQ_AVAIL + 1).run(POP, NOTIFY).data()
    yield "used-past-end", Ring(used=0xfff0).run(POP).data()
    # The guest's RAM unplugged under a working queue: each operation finds its part gone.
    for i, first in enumerate((POP, (PUSH, 4), NOTIFY, ENABLE)):
        r = Ring(num=2).desc(0, VQ_BUFS, 8).avail(0, 0)
        yield f"unplugged-{i}", r.run(POP, (BUMP, 31), first, POP, (PUSH, 4), NOTIFY, ENABLE).data()
    yield "not-power-of-2", Ring(num=4, flags=VQ_NOT_POW2).run(POP, PUSH).data()


def virtqueue(out):
    for name, data in vq_seeds():
        (out / name).write_bytes(data)


# ---- virtio_blk: fuzz/virtio_blk.c's encoding ----------------------------------------------

(OP_WRITE, OP_READ, OP_STATUS, OP_FEATURES, OP_QUEUE, OP_AVAIL, OP_NOTIFY, OP_REQUEST, OP_MEMW, OP_BUMP,
 OP_RESET, OP_ACK, OP_UNREADY, OP_BRINGUP) = range(14)
T_IN, T_OUT, T_FLUSH, T_GET_ID = range(4)            # REQUEST's type (a bits 2-3)
SEPARATE, MERGED, INDIRECT, SPLIT = range(4)          # REQUEST's framing (l bits 0-1)
S_ACK, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK, S_NEEDS_RESET, S_FAILED = 1, 2, 4, 8, 0x40, 0x80
S_ALL = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK
# virtio-mmio registers (virtio 1.2 §4.2.2)
R_MAGIC, R_VERSION, R_DEVICE_ID, R_VENDOR, R_DEV_FEATURES, R_DEV_FEATURES_SEL = 0x00, 0x04, 0x08, 0x0c, 0x10, 0x14
R_DRV_FEATURES, R_DRV_FEATURES_SEL, R_QUEUE_SEL, R_QUEUE_NUM_MAX, R_QUEUE_NUM = 0x20, 0x24, 0x30, 0x34, 0x38
R_QUEUE_READY, R_QUEUE_NOTIFY, R_INT_STATUS, R_INT_ACK, R_STATUS = 0x44, 0x50, 0x60, 0x64, 0x70
R_QUEUE_DESC, R_QUEUE_AVAIL, R_QUEUE_USED, R_GENERATION, R_CONFIG = 0x80, 0x90, 0xa0, 0xfc, 0x100
BLK_DESC, BLK_AVAIL, BLK_USED, BLK_BUFS = 0x000, 0x100, 0x200, 0x400   # the usual ring, in RAM
BLK_RAM = 0x10000
WIDTH = {4: 0, 1: 1, 2: 2, 8: 3}


def qcfg(log2=3, plus1=False, high=False, past=False, no_ready=False, desc=BLK_DESC, avail=BLK_AVAIL, used=BLK_USED):
    """A queue's configuration (QCFG): QueueNum 2^log2 (+1), the three offsets."""
    return bytes([log2 | plus1 << 4 | high << 5 | past << 6 | no_ready << 7]) + struct.pack("<3H", desc, avail, used)


class Blk:
    """An input of fuzz/virtio_blk.c: the disk, the driver's operations, guest RAM."""

    def __init__(self, sectors=8, refused=False, no_event_idx=False, long_name=False, disk_fails=False, fill=0x30):
        self.head = bytes([(sectors - 1) | refused << 3 | no_event_idx << 4 | long_name << 5 | disk_fails << 6, fill])
        self.ops = bytearray()
        self.mem = bytearray()

    def op(self, kind, a=0, args=b""):
        self.ops += bytes([kind | a << 4]) + bytes(args)
        return self

    def write(self, off, value, size=4):
        return self.op(OP_WRITE, WIDTH[size] | (off & 3) << 2, bytes([off >> 2 & 0x7f]) + struct.pack("<I", value))

    def read(self, off, size=4):
        return self.op(OP_READ, WIDTH[size] | (off & 3) << 2, bytes([off >> 2 & 0x7f]))

    def status(self, value):
        return self.op(OP_STATUS, 0, bytes([value]))

    def features(self, version_1=True, event_idx=False, indirect=False, ro=False):
        return self.op(OP_FEATURES, version_1 | event_idx << 1 | indirect << 2 | ro << 3)

    def queue(self, sel=0, **cfg):
        return self.op(OP_QUEUE, {0: 0, 1: 1, 2: 2, 0xffffffff: 3}[sel], qcfg(**cfg))

    def bringup(self, event_idx=False, indirect=False, ro=False, no_version_1=False, **cfg):
        return self.op(OP_BRINGUP, event_idx | indirect << 1 | ro << 2 | no_version_1 << 3, qcfg(**cfg))

    def request(self, kind, n=1, framing=SEPARATE, sector=0, slot=0, off=BLK_BUFS, unknown=False, no_status=False,
                short=False, far=False):
        l = framing | unknown << 2 | no_status << 3 | short << 4 | far << 5
        return self.op(OP_REQUEST, n | kind << 2, bytes([l, sector, slot]) + struct.pack("<H", off))

    def avail(self, head):
        return self.op(OP_AVAIL, head >> 8, bytes([head & 0xff]))

    def notify(self, q=0):
        return self.op(OP_NOTIFY, 15 if q == 0xffffffff else q)

    def memw(self, off, value):
        return self.op(OP_MEMW, 0, struct.pack("<HH", off, value))

    def bump(self, a=0):
        return self.op(OP_BUMP, a)

    def reset(self):
        return self.op(OP_RESET)

    def ack(self, a=0):
        return self.op(OP_ACK, a)

    def unready(self, sel=0):
        return self.op(OP_UNREADY, {0: 0, 1: 1, 2: 2, 0xffffffff: 3}[sel])

    def desc(self, i, addr, length, flags=0, nxt=0, table=BLK_DESC):
        """A descriptor the driver wrote into RAM (virtio 1.2 §2.7.5)."""
        at = table + 16 * i
        if len(self.mem) < at + 16:
            self.mem += bytes(at + 16 - len(self.mem))
        struct.pack_into("<QIHH", self.mem, at, addr, length, flags, nxt)
        return self

    def data(self):
        return self.head + struct.pack("<H", len(self.ops)) + bytes(self.ops) + bytes(self.mem)


def blk_seeds():
    # A correct driver: bring-up, then one request of each kind.
    yield "read", Blk().bringup().request(T_IN, 1, sector=2).read(R_STATUS)
    yield "write-read-back", Blk().bringup().request(T_OUT, 2, sector=3).request(T_IN, 3, sector=2, off=0x2000)
    yield "flush", Blk().bringup().request(T_OUT, 1, sector=7).request(T_FLUSH)
    yield "get-id", Blk().bringup().request(T_GET_ID, 2).request(T_GET_ID, 1, slot=3).request(T_GET_ID, 3, slot=5)
    yield "get-id-long-name", Blk(long_name=True).bringup().request(T_GET_ID, 3).request(T_GET_ID, 2)
    yield "indirect", Blk().bringup(indirect=True).request(T_IN, 2, INDIRECT, sector=1).request(
        T_OUT, 1, INDIRECT, sector=0, off=0x1000).request(T_GET_ID, 3, INDIRECT)
    yield "framings", Blk().bringup(indirect=True).request(T_OUT, 3, MERGED, sector=4).request(
        T_IN, 3, SPLIT, sector=4, slot=2).request(T_IN, 1, MERGED, sector=5).request(T_OUT, 2, SPLIT, sector=0).request(
        T_GET_ID, 1, SPLIT).request(T_FLUSH, 0, SPLIT)
    yield "event-idx", Blk().bringup(event_idx=True).request(T_IN, 1).ack().memw(BLK_AVAIL + 4 + 2 * 8, 3).request(
        T_OUT, 1, sector=1).request(T_IN, 1, sector=1).ack().request(T_FLUSH).ack(1)
    yield "no-interrupt-flag", Blk().bringup().memw(BLK_AVAIL, 1).request(T_IN, 1).ack()
    yield "ring-wrap", Blk(sectors=2).bringup(log2=1).request(T_OUT, 1, sector=1).request(T_IN, 1, sector=1).request(
        T_FLUSH).request(T_GET_ID, 1).request(T_IN, 2).ack()
    yield "big-queue", Blk().bringup(log2=8, desc=0x0, avail=0x1000, used=0x2000).request(
        T_IN, 2, slot=255, off=0x4000).request(T_OUT, 1, INDIRECT, slot=254, off=0x5000)
    yield "no-event-idx", Blk(no_event_idx=True).bringup(event_idx=True).bringup().request(T_IN, 1)
    yield "one-sector", Blk(sectors=1).bringup().request(T_IN, 1).request(T_IN, 1, sector=1).request(T_OUT, 2)
    # What a device must refuse, one request at a time.
    yield "past-capacity", Blk().bringup().request(T_IN, 1, sector=8).request(T_OUT, 2, sector=7).request(
        T_IN, 3, sector=6).request(T_OUT, 1, far=True).request(T_IN, 1, sector=255)
    yield "zero-data", Blk().bringup().request(T_IN, 0, sector=8).request(T_OUT, 0).request(T_GET_ID, 0)
    yield "short-header", Blk().bringup().request(T_IN, 1, short=True).request(T_OUT, 1, short=True).request(
        T_FLUSH, 0, SPLIT, short=True)
    yield "unknown-type", Blk().bringup().request(T_IN, 1, unknown=True).request(T_OUT, 1, MERGED, unknown=True)
    yield "no-status", Blk().bringup().request(T_IN, 1, no_status=True).reset().bringup().request(
        T_OUT, 1, no_status=True)
    yield "indirect-without-feature", Blk().bringup().request(T_IN, 1, INDIRECT).request(T_IN, 1)
    # A hostile driver's rings.
    yield "loop", Blk().bringup().desc(0, BLK_BUFS, 16, 1, 1).desc(1, BLK_BUFS + 16, 1, 1, 0).avail(0).notify().request(
        T_IN, 1).status(S_ALL | S_FAILED).reset().bringup().request(T_IN, 1)
    yield "indirect-loop", Blk().bringup(indirect=True).desc(0, 0x1000, 32, 4).desc(
        0, BLK_BUFS, 1, 1, 1, table=0x1000).desc(1, BLK_BUFS, 1, 1, 0, table=0x1000).avail(0).notify()
    yield "next-past-queue", Blk().bringup().desc(0, BLK_BUFS, 16, 1, 8).avail(0).notify()
    yield "next-past-table", Blk().bringup(indirect=True).desc(0, 0x1000, 16, 4).desc(
        0, BLK_BUFS, 16, 1, 1, table=0x1000).avail(0).notify()
    yield "buffer-outside-ram", Blk().bringup().desc(0, BLK_RAM - 8, 16, 1, 1).desc(1, BLK_BUFS, 1, 2).avail(
        0).notify()
    yield "buffer-at-4g", Blk().bringup().desc(0, 1 << 32, 16, 1, 1).desc(1, BLK_BUFS, 1, 2).avail(0).notify()
    yield "read-after-write", Blk().bringup().desc(0, BLK_BUFS, 1, 3, 1).desc(1, BLK_BUFS + 16, 16).avail(0).notify()
    yield "head-too-big", Blk().bringup().avail(8).notify().read(R_INT_STATUS).ack()
    yield "avail-far-ahead", Blk().bringup().bump(15).notify().read(R_STATUS)
    yield "avail-ahead", Blk().bringup().request(T_IN, 1).bump(6).notify()
    long_chain = Blk().bringup(log2=8, desc=0x0, avail=0x1000, used=0x2000)
    for i in range(130):
        long_chain.desc(i, 0x4000 + i, 1, 1, i + 1)
    long_chain.desc(130, 0x5000, 1, 2)
    yield "chain-too-long", long_chain.avail(0).notify()
    big_table = Blk().bringup(indirect=True).desc(0, 0x1000, 16 * 129, 4)
    for i in range(129):
        big_table.desc(i, 0x4000, 1, 1 if i < 128 else 2, i + 1, table=0x1000)
    yield "indirect-table-too-long", big_table.avail(0).notify()
    yield "indirect-in-indirect", Blk().bringup(indirect=True).desc(0, 0x1000, 16, 4).desc(
        0, 0x1000, 16, 4, table=0x1000).avail(0).notify()
    yield "indirect-with-next", Blk().bringup(indirect=True).desc(0, 0x1000, 16, 5, 1).desc(
        0, BLK_BUFS, 1, 2, table=0x1000).avail(0).notify()
    yield "used-over-avail", Blk().bringup(used=BLK_AVAIL).request(T_IN, 1).request(T_OUT, 1)
    yield "data-over-descriptors", Blk().bringup().request(T_IN, 1, off=BLK_DESC).request(T_IN, 1, off=BLK_AVAIL - 16)
    yield "header-over-avail", Blk().bringup().request(T_OUT, 1, off=BLK_AVAIL).notify()
    # The transport: the status steps, features, queues.
    yield "status-order", Blk().status(S_DRIVER_OK).reset().status(S_ACK | S_FEATURES_OK).reset().status(
        S_ACK).status(S_ACK | S_DRIVER).status(S_ACK).status(S_FAILED).reset().status(S_NEEDS_RESET).status(
        S_ACK).status(S_ACK | S_DRIVER).status(S_ACK | S_DRIVER | S_DRIVER_OK).reset().status(
        S_ACK | S_DRIVER).features().status(S_ACK | S_DRIVER | S_FEATURES_OK).features(event_idx=True).status(
        S_ALL).status(S_ALL | S_NEEDS_RESET).status(0xff)
    yield "features-refused", Blk().bringup(no_version_1=True).request(T_IN, 1).bringup(ro=True).bringup(
        event_idx=True, indirect=True).features(ro=True)
    yield "queue-before-features", Blk().status(S_ACK).status(S_ACK | S_DRIVER).queue().features().status(
        S_ACK | S_DRIVER | S_FEATURES_OK).queue().status(S_ALL).request(T_IN, 1)
    bad_queues = Blk().status(S_ACK).status(S_ACK | S_DRIVER).features().status(S_ACK | S_DRIVER | S_FEATURES_OK)
    for cfg in (dict(log2=1, plus1=True), dict(log2=9), dict(log2=15, plus1=True), dict(desc=0x8), dict(avail=0x101),
                dict(used=0x202), dict(high=True), dict(past=True), dict(desc=0xff80), dict(used=0xffc0),
                dict(avail=0xfff0, log2=4)):
        bad_queues.queue(**cfg)
    bad_queues.write(R_QUEUE_NUM, 0).write(R_QUEUE_READY, 1).write(R_QUEUE_DESC + 4, 1).queue(1).queue(2).queue(
        0xffffffff)
    yield "bad-queues", bad_queues.queue().status(S_ALL).request(T_IN, 1)
    yield "ready-queue-rewritten", Blk().bringup().queue(log2=2, desc=0x800, avail=0x900, used=0xa00).write(
        R_QUEUE_DESC, 0x3000).write(R_QUEUE_NUM, 4).request(T_IN, 1).unready().queue(
        log2=2, desc=0x800, avail=0x900, used=0xa00).request(T_IN, 1, off=0x1000)
    yield "unready-notify", Blk().bringup().unready().request(T_IN, 1).notify().unready(1).unready(
        0xffffffff).queue().notify(1).notify(2).notify(0xffffffff)
    yield "after-needs-reset", Blk().bringup().avail(9).notify().request(T_IN, 1).queue().unready().queue().notify(
        ).status(S_ALL | S_FAILED).request(T_OUT, 1).reset().bringup().request(T_OUT, 1).request(T_IN, 1)
    # Every register and the configuration, at every width; writes the transport drops.
    regs = Blk().bringup(indirect=True)
    for off in (R_MAGIC, R_VERSION, R_DEVICE_ID, R_VENDOR, R_DEV_FEATURES, R_QUEUE_NUM_MAX, R_QUEUE_READY,
                R_INT_STATUS, R_STATUS, R_GENERATION, R_QUEUE_NUM, R_QUEUE_DESC):
        regs.read(off).read(off, 2).read(off + 1, 1)
    for sel in (1, 2, 7):
        regs.write(R_DEV_FEATURES_SEL, sel).read(R_DEV_FEATURES).write(R_QUEUE_SEL, sel).read(R_QUEUE_NUM_MAX)
    regs.write(R_DEV_FEATURES_SEL, 0).write(R_QUEUE_SEL, 0)
    for off, size in ((R_STATUS, 1), (R_STATUS, 2), (R_QUEUE_NOTIFY, 8), (R_MAGIC, 4), (R_QUEUE_NUM_MAX, 4),
                      (R_CONFIG, 4), (R_CONFIG + 0x14, 1), (0xc0, 4), (R_STATUS + 1, 4)):
        regs.write(off, 0, size)
    yield "registers", regs.request(T_IN, 1)
    config = Blk(sectors=5).bringup()
    for off in range(R_CONFIG, R_CONFIG + 0x40, 4):
        config.read(off).read(off + 1, 1).read(off + 2, 2).read(off, 8)
    yield "configuration", config.read(0x1fc, 8).read(0x1ff, 2).read(0x1f8, 8).read(0x1fe, 2)
    yield "refused-disk", Blk(refused=True).bringup().request(T_IN, 1)
    yield "disk-fails", Blk(disk_fails=True).bringup().request(T_IN, 1).request(T_OUT, 2, sector=1).request(
        T_FLUSH).request(T_GET_ID, 2).request(T_IN, 0)
    yield "interrupt-ack", Blk().bringup().request(T_IN, 1).read(R_INT_STATUS).ack().ack(3).write(
        R_INT_ACK, 0xffffffff).read(R_INT_STATUS)


def virtio_blk(out):
    for name, blk in blk_seeds():
        (out / name).write_bytes(blk.data())


def main(argv):
    if len(argv) == 2 and argv[0] in ("mmu", "emulate", "virtqueue", "virtio_blk"):
        out = Path(argv[1])
    elif len(argv) == 3 and argv[0] == "loader":
        guests, out = Path(argv[1]), Path(argv[2])
        if not any(guests.glob("*.elf")):
            sys.exit(f"seeds.py: no guest images in {guests} (make guests first)")
    else:
        sys.exit(__doc__)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    if argv[0] == "mmu":
        mmu(out)
    elif argv[0] == "emulate":
        emulate(out)
    elif argv[0] == "virtqueue":
        virtqueue(out)
    elif argv[0] == "virtio_blk":
        virtio_blk(out)
    else:
        loader(guests, out)
    print(f"seeds.py: {sum(1 for _ in out.iterdir())} {argv[0]} seeds in {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
