"""diagnose.explain(): each mistake it knows, from transcripts of real runs of that
mistake (lab files with the one mistake, graded; trimmed to the lines that
matter), is named with its region; runs it cannot tell about get no diagnosis;
and the words it matches are still what the kit's VMM, minikvm and guests print."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import diagnose, regions, rubric, status  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STATUS = status.load()


def test(guest, name="t"):
    return rubric.Test(name, 10, guest)


# vcpu_setup_real left CS.base at 0xffff0000, RIP = entry - CS.base: the vCPU
# faults at once, runs the zeroed IVT up to 0x7c00 and reaches the guest.
CS_BASE_GUEST_RAN = """\
vmm: note: vCPU 0 is in real mode with CS.base 0xffff0000, not CS.selector 0x0000 << 4 = 0x0: real mode needs CS.base = selector * 16 (0xffff0000 is KVM's reset value, left in place)
vmm: note: vCPU 0 is in real mode with RIP 0xffffffff00017c00, beyond 16-bit IP
kvmlabs: begin real-hello
hello from real mode
not ok entry-no-fault: the vCPU took an exception before the guest's first instruction (an exception frame IP 0x7c00 CS 0x0 FLAGS 0x2 at SP 0x7bfa): the real-mode entry state is invalid, e.g. CS.base is not CS.selector * 16
ok entry-ip
ok entry-cs
not ok entry-sp: got 0x7bfa want 0x7c00
kvmlabs: end passed=7 failed=2 skipped=0
vmm: guest exit through port 0xf4 with value 1 (exit status 3)
"""

# The same with RIP = entry - (selector << 4): the guest never runs.
CS_BASE_GUEST_NEVER_RAN = """\
vmm: note: vCPU 0 is in real mode with CS.base 0xffff0000, not CS.selector 0x0000 << 4 = 0x0: real mode needs CS.base = selector * 16 (0xffff0000 is KVM's reset value, left in place)
vmm: vCPU 0 registers after 1 exits:
vmm:  rip 0000000000007bf8 rsp 0000000000007bf8 rflags 00000096
vmm:  cs   sel 0000 base 0000000000000000 limit 0000ffff type b s 1 dpl 0 p 1 db 0 l 0 g 0 avl 0
vmm: vCPU 0 KVM internal error 1 (instruction emulation failed); data 0x1 0x200007c0f0f 0x2e8de826892efa00 0x1000 0x0 0x0 0x0 0x0 (exit status 12)
"""

EINTR_FATAL = """\
kvmlabs: begin real-busy
vmm: vCPU 0 KVM_RUN: Interrupted (exit status 6)
"""

EINTR_AS_TIMEOUT = """\
kvmlabs: begin real-busy
busy: round 1 of 8
vmm: timeout (exit status 16)
"""

EINTR_RETURNS = """\
vmm: the vCPUs ended (exit status 0)
"""

EINTR_QUIET_GIVE_UP = """\
kvmlabs: begin real-busy
busy: round 2 of 8
vmm: KVM_RUN failed (exit status 6)
"""

REAL_TIMEOUT = """\
kvmlabs: begin real-busy
vmm: timeout: the guest ran for 10 s without ending (exit status 16)
"""

REP_INS_FIRST_ONLY = """\
kvmlabs: begin real-string-pio
ok rep-outsb
ok rep-outsw
not ok rep-insb: element 1 of 16 read 0x0, want 0x5a: the first was served, not the others (a rep ins exit has io.count elements, each in its own slot of the data page)
not ok rep-insw: element 1 of 16 read 0x0, want 0xbeef: the first was served, not the others (a rep ins exit has io.count elements, each in its own slot of the data page)
kvmlabs: end passed=2 failed=3 skipped=0
vmm: guest exit through port 0xf4 with value 1 (exit status 3)
"""

CR0_PE_MULTIBOOT = """\
vmm: note: vCPU 0 enters a multiboot image with CR0.PE clear (CR0 0x60000010): it runs in real mode, not protected mode
kvmlabs: begin mb-hello
ok eax-magic
not ok cr0-pe-set: CR0 0x60000010: PE clear, the kernel was not entered in protected mode
ok cr0-pg-clear
skip flat-segment-bases: not in protected mode
kvmlabs: end passed=10 failed=1 skipped=2
vmm: guest exit through port 0xf4 with value 1 (exit status 3)
"""

FLAT_LIMITS = """\
kvmlabs: begin mb-hello
ok eax-magic
ok cr0-pe-set
ok flat-segment-bases
not ok flat-segment-limits: a read through FS at 0x1fffffc (the last dword of RAM) faulted: its limit is below 4 GiB - 1
kvmlabs: end passed=12 failed=1 skipped=0
"""

RDMSR_RIP_ADVANCED = """\
kvmlabs-host: 127 MiB RAM, TSC 50 MHz, 1 guest file(s), VMM on minikvm
kvmlabs: begin prot-vmx-msr
ok rdmsr-bogus-gp
not ok rdmsr-bogus-gp-at-rdmsr: the #GP frame's EIP is 0x100e5a, not the RDMSR at 0x100e58: #GP is a fault, so RIP must not be advanced when it is injected
ok wrmsr-bogus-gp
ok wrmsr-bogus-gp-at-wrmsr
kvmlabs: end passed=7 failed=1 skipped=0
vmm: guest exit through port 0xf4 with value 1 (exit status 3)
kvmlabs-host: exit status 3
"""

EVENT_NOT_REDELIVERED = """\
kvmlabs-host: 127 MiB RAM, TSC 50 MHz, 1 guest file(s), VMM on minikvm
kvmlabs: begin prot-vmx-reinject
ok single-step-trap
not ok single-step-trap-redelivered: single-step #DB whose delivery a VM exit interrupted (#PF on a stack page never touched before), so the hypervisor must deliver it again (IDT-vectoring information, SDM 28.2.4): handler ran 1 time(s), last at EIP 0x100daa, want once at 0x100da8: it was lost, and TF, still set, raised another one instruction later
kvmlabs: end passed=1 failed=1 skipped=0
vmm: guest exit through port 0xf4 with value 1 (exit status 3)
kvmlabs-host: exit status 3
"""

PDPTES_FROM_MEMORY = """\
kvmlabs-host: 127 MiB RAM, TSC 49 MHz, 1 guest file(s), VMM on minikvm
kvmlabs: begin prot-pg-pae
ok pdpte-memory-not-loaded
ok pdpte-register-walked
ok pdpte-register-kept-by-cr0-wp
not ok pdpte-loaded-by-mov-cr3: quarter 3 after MOV CR3 loaded the changed PDPTE: load of 0xc0201124: 0 #PF (last: error 0xffffffff CR2 0xffffffff EIP 0xffffffff), read 0x9ae00020; want no #PF, 0x9ae00022
ok pdpte-loaded-by-mov-cr3-2
kvmlabs: end passed=40 failed=2 skipped=0
vmm: guest exit through port 0xf4 with value 1 (exit status 3)
kvmlabs-host: exit status 3
"""

SINGLE_STEP_BROKEN = """\
kvmlabs: begin prot-vmx-reinject
not ok single-step-trap: single-step #DB: handler ran 0 time(s), last at EIP 0x0, want once at 0x100d98: it was never delivered
not ok single-step-trap-redelivered: single-step #DB whose delivery ...: handler ran 0 time(s), last at EIP 0x0, want once at 0x100da8: it was never delivered
kvmlabs: end passed=0 failed=2 skipped=0
"""

HOST_RIP_CHECKER = """\
kvmlabs-host: 127 MiB RAM, TSC 49 MHz, 1 guest file(s), VMM on minikvm
vmentry-check: HOST_RIP is 0: the VMCS field was never written; the processor would resume the host at address 0 (SDM 28.5.3 loads RIP from it) [kit rule: the processor's own checks accept it]
minikvm: VM entry would fail 1 check(s); not entering
vmm: vCPU 0 VM entry failed: hardware_entry_failure_reason 0x80000021 on cpu 0 (exit status 10)
kvmlabs-host: exit status 10
"""

# What the same mistake did before the checker named it.
HOST_RIP_JUMP_TO_ZERO = """\
kvmlabs-host: 127 MiB RAM, TSC 49 MHz, 1 guest file(s), VMM on minikvm
kvmlabs-host: EXCEPTION #PF page fault (vector 14) in the host kernel
  error code 0  rip 0  cs 0x8  rflags 0x10002  rsp 0x15cd60  ss 0x10
  cr0 0xe0010033  cr2 0  cr3 0x1000  cr4 0x2620  efer 0x500
  page fault: not-present page on read at 0
  backtrace (addr2line -f -e kvmlabs.elf):
kvmlabs-host: exit status 26
"""

PASSED = """\
kvmlabs: begin real-hello
hello from real mode
ok entry-no-fault
ok entry-ip
kvmlabs: end passed=2 failed=0 skipped=0
vmm: guest exit through port 0xf4 with value 0 (exit status 1)
"""

UNRELATED_FAILURE = """\
kvmlabs: begin real-pio
not ok scratch-byte: got 0x0 want 0x5a
kvmlabs: end passed=12 failed=1 skipped=0
vmm: guest exit through port 0xf4 with value 1 (exit status 3)
"""


# segment_from_descriptor took L from bit 52 (AVL): CS 0x18 has L clear with EFER.LMA set.
CS_L_FROM_AVL = """\
vmm: note: vCPU 0 enters the elf64 image with CS.L clear (CS 0x18, EFER 0x500): it runs in compatibility mode, not 64-bit mode
vmm: vCPU 0 registers after 1 exits:
vmm: vCPU 0 triple fault (KVM_EXIT_SHUTDOWN) (exit status 8)
"""

# page_tables_build stepped the PDEs by 4 KiB instead of 2 MiB.
PDE_STRIDE_4K = """\
ok map-stack-2mib
not ok map-rom: VA 0xffff0000 maps to PA 0xc01f0000 (page shift 21), want identity
ok map-rom-2mib
not ok map-4gib-end: VA 0xfffff000 maps to 0xc01ff000 (shift 21)
vmm: vCPU 0 triple fault (KVM_EXIT_SHUTDOWN) (exit status 8)
"""

# segment_from_descriptor never copied P: prot-hello on minikvm (rubric test vt-segments).
CS_NOT_PRESENT_VTX = """\
kvmlabs-host: 127 MiB RAM, TSC 50 MHz, 1 guest file(s), VMM on minikvm
vmentry-check: guest CS.AR 0x10000: CS must be usable (SDM 27.3.1.2)
minikvm: VM entry would fail: exit reason 33 (INVALID_STATE); not entering
vmm: vCPU 0 VM entry failed: hardware_entry_failure_reason 0x80000021 on cpu 0 (exit status 10)
kvmlabs-host: exit status 10
"""


# vcpu_create mapped one page of the kvm_run area; the seam's guard page after it caught the read.
RUN_AREA_ONE_PAGE = """\
vmm: read past the kvm_run mapping of vCPU fd 6: offset 0x1000 of a 4096-byte mapping; map the size KVM_GET_VCPU_MMAP_SIZE returns (exit status 12)
"""

# vm_set_memslot gave memory_size in pages: the 64 KiB ROM slot became 16 bytes.
MEMSLOT_SIZE_IN_PAGES = """\
vmm: KVM_SET_USER_MEMORY_REGION slot 1 (rom at 0xffff0000): Invalid argument
vmm: setting up device testdev: Invalid argument (exit status 6)
"""

# vm_set_memslot passed userspace_addr through a 32-bit integer.
MEMSLOT_HVA_TRUNCATED = """\
vmm: vCPU 0 registers after 1 exits:
vmm:  rip 0000000000007c00 rsp 0000000000007c00 rflags 00000002
vmm: vCPU 0 KVM internal error 1 (instruction emulation failed); data 0x0 0x1000 0x0 0x0 0x0 0x0 (exit status 12)
"""


# vmx_hardware_enable never wrote CR4.VMXE: the host's VMXON raised #UD.
VMXON_UD = """\
kvmlabs-host: EXCEPTION #UD invalid opcode (vector 6) in the host kernel
  error code 0  rip 0x10ed6b  cs 0x8  rflags 0x10006  rsp 0x15dee0  ss 0x10
  cr0 0xe0010033  cr2 0  cr3 0x1000  cr4 0x620  efer 0x500
  code at rip: f3 0f c7 75 f8 0f 92 c0 0f 94 c1 31 d2 08 c8 0f
kvmlabs-host: exit status 26
"""

# vmx_hardware_enable left the VMXON region without the revision identifier.
VMXON_VMFAIL = """\
minikvm: VMXON failed (already in VMX operation, or a bad VMXON region)
vmm: KVM_CREATE_VM: I/O error
vmm: setting up the vm failed: I/O error (exit status 6)
"""


class ExplainTest(unittest.TestCase):
    def explain(self, guest, status_name_or_number, transcript):
        st = STATUS[status_name_or_number] if isinstance(status_name_or_number, str) else status_name_or_number
        return diagnose.explain(test(guest), st, transcript)

    def assert_names(self, d, region, *words):
        self.assertIsNotNone(d, "no diagnosis")
        self.assertEqual(d.region, region)
        for w in words:
            self.assertIn(w, d.reason)

    def test_cs_base_when_the_guest_ran(self):
        d = self.explain("real-hello.bin", 3, CS_BASE_GUEST_RAN)
        self.assert_names(d, "vcpu_setup_real", "CS.base is 0xffff0000", "reset value", "CS.selector 0x0000 * 16")

    def test_cs_base_when_the_guest_never_ran(self):
        d = self.explain("real-hello.bin", "INTERNAL_ERROR", CS_BASE_GUEST_NEVER_RAN)
        self.assert_names(d, "vcpu_setup_real", "CS.base is 0xffff0000")

    def test_cs_base_from_the_guest_alone(self):
        only_guest = "\n".join(l for l in CS_BASE_GUEST_RAN.splitlines() if "note:" not in l)
        d = self.explain("real-hello.bin", 3, only_guest)
        self.assert_names(d, "vcpu_setup_real", "CS.base", "first instruction")

    def test_cs_l_clear_with_the_64_bit_selector(self):
        d = self.explain("long-hello.elf", "TRIPLE_FAULT", CS_L_FROM_AVL)
        self.assert_names(d, "segment_from_descriptor", "CS.L clear", "bit 53")

    def test_cs_l_clear_with_another_selector(self):
        d = self.explain("long-hello.elf", "TRIPLE_FAULT", CS_L_FROM_AVL.replace("CS 0x18", "CS 0x8"))
        self.assert_names(d, "setup_flat", "CS 0x8", "64-bit code descriptor")

    def test_tables_not_identity(self):
        d = self.explain("long-hello.elf", "TRIPLE_FAULT", PDE_STRIDE_4K)
        self.assert_names(d, "page_tables_build", "map-rom", "0xc01f0000")

    def test_segment_refused_by_vm_entry(self):
        d = self.explain("prot-hello.elf", 10, CS_NOT_PRESENT_VTX)
        self.assert_names(d, "segment_from_descriptor", "CS", "must be usable")

    def test_run_area_mapped_short(self):
        d = self.explain("real-hello.bin", "INTERNAL_ERROR", RUN_AREA_ONE_PAGE)
        self.assert_names(d, "vcpu_create", "offset 0x1000 of a 4096-byte mapping", "KVM_GET_VCPU_MMAP_SIZE")

    def test_memslot_refused(self):
        d = self.explain("real-hello.bin", "KVM_SETUP", MEMSLOT_SIZE_IN_PAGES)
        self.assert_names(d, "vm_set_memslot", "slot 1 (rom at 0xffff0000)", "in bytes")

    def test_first_fetch_failed(self):
        d = self.explain("real-hello.bin", "INTERNAL_ERROR", MEMSLOT_HVA_TRUNCATED)
        self.assert_names(d, "vm_set_memslot", "userspace_addr")
        # With instruction bytes KVM did read guest memory: not this mistake.
        self.assertNotEqual(getattr(self.explain("real-hello.bin", "INTERNAL_ERROR", MEMSLOT_HVA_TRUNCATED.replace(
            "data 0x0 ", "data 0x1 ")), "region", None), "vm_set_memslot")

    def test_vmxon_ud(self):
        d = self.explain("prot-hello.elf", 26, VMXON_UD)
        self.assert_names(d, "vmx_hardware_enable", "#UD", "CR4.VMXE")
        # #UD at another instruction (F3 0F C7 /7 is RDPID): not VMXON.
        other = diagnose.explain(test("prot-hello.elf"), 26, VMXON_UD.replace("f3 0f c7 75", "f3 0f c7 f8"))
        self.assertNotEqual(getattr(other, "region", None), "vmx_hardware_enable")

    def test_vmxon_vmfail(self):
        d = self.explain("prot-hello.elf", "KVM_SETUP", VMXON_VMFAIL)
        self.assert_names(d, "vmx_hardware_enable", "revision identifier")

    def test_eintr_taken_for_an_error(self):
        d = self.explain("real-busy.bin", "KVM_SETUP", EINTR_FATAL)
        self.assert_names(d, "vcpu_run_loop", "-EINTR", "enter the guest again")

    def test_eintr_taken_for_the_timeout(self):
        d = self.explain("real-busy.bin", "TIMEOUT", EINTR_AS_TIMEOUT)
        self.assert_names(d, "vcpu_run_loop", "-EINTR", "timeout", "after round 1 of 8")

    def test_eintr_makes_the_loop_return(self):
        d = self.explain("bad-loop.bin", "HALTED", EINTR_RETURNS)
        self.assert_names(d, "vcpu_run_loop", "-EINTR", "returned")

    def test_eintr_quietly_given_up_on_a_long_running_guest(self):
        d = self.explain("real-busy.bin", "KVM_SETUP", EINTR_QUIET_GIVE_UP)
        self.assert_names(d, "vcpu_run_loop", "-EINTR", "after round 2 of 8")
        # The same ending of a guest that exits all the time is not evidence of it.
        self.assertIsNone(self.explain("real-pio.bin", "KVM_SETUP", EINTR_QUIET_GIVE_UP))

    def test_a_real_timeout_is_not_eintr(self):
        self.assertIsNone(self.explain("real-busy.bin", "TIMEOUT", REAL_TIMEOUT))
        self.assertIsNone(diagnose.explain(test("real-busy.bin"), None, "kvmlabs: begin real-busy\n"))

    def test_rep_ins_first_element_only(self):
        d = self.explain("real-string-pio.bin", 3, REP_INS_FIRST_ONLY)
        self.assert_names(d, "handle_io", "rep insb", "only the first element", "io.count")

    def test_rep_outs_out_of_order(self):
        t = REP_INS_FIRST_ONLY.replace("ok rep-outsb", "not ok rep-outsb: after rep outsb of 16 bytes 0xa0..0xaf "
                                       "the scratch register holds 0xa0, want the last, 0xaf", 1)
        d = self.explain("real-string-pio.bin", 3, t)
        self.assert_names(d, "handle_io", "rep outsb", "io.count")

    def test_cr0_pe_never_set(self):
        d = self.explain("mb-hello.elf", 3, CR0_PE_MULTIBOOT)
        self.assert_names(d, "setup_flat", "CR0.PE was never set", "multiboot image", "real mode")
        only_guest = "\n".join(l for l in CR0_PE_MULTIBOOT.splitlines() if "note:" not in l)
        self.assert_names(self.explain("mb-hello.elf", 3, only_guest), "setup_flat", "CR0.PE")

    def test_cr0_pe_before_real_mode_notes(self):
        # A protected-mode image run in real mode crashes with a register dump
        # whose CS breaks the real-mode rule: the cause is still CR0.PE.
        dump = "vmm:  note: vCPU 0 is in real mode with CS.base 0x0, not CS.selector 0x0008 << 4 = 0x80: x\n"
        d = self.explain("prot-hello.elf", "INTERNAL_ERROR", CR0_PE_MULTIBOOT.splitlines()[0] + "\n" + dump)
        self.assert_names(d, "setup_flat", "CR0.PE")

    def test_segment_limits_not_flat(self):
        d = self.explain("mb-hello.elf", 3, FLAT_LIMITS)
        self.assert_names(d, "segment_from_descriptor", "limit", "G=1")

    def test_rip_advanced_on_a_faulting_rdmsr(self):
        d = self.explain("prot-vmx-msr.elf", 3, RDMSR_RIP_ADVANCED)
        self.assert_names(d, "handle_rdmsr", "RDMSR", "#GP is a fault", "0x100e58")
        wr = RDMSR_RIP_ADVANCED.replace("not ok rdmsr-bogus-gp-at-rdmsr", "ok rdmsr-bogus-gp-at-rdmsr\nnot ok "
                                        "wrmsr-bogus-gp-at-wrmsr").replace("\nok wrmsr-bogus-gp-at-wrmsr", "")
        self.assert_names(self.explain("prot-vmx-msr.elf", 3, wr), "handle_wrmsr", "WRMSR")

    def test_interrupted_event_not_delivered_again(self):
        d = self.explain("prot-vmx-reinject.elf", 3, EVENT_NOT_REDELIVERED)
        self.assert_names(d, "vmx_vcpu_run", "vmx_complete_interrupts", "IDT-vectoring")

    def test_pae_roots_from_memory(self):
        d = self.explain("prot-pg-pae.elf", 3, PDPTES_FROM_MEMORY)
        self.assert_names(d, "mmu_alloc_shadow_roots", "PDPTE registers", "MOV CR3")
        # A walk that does not start at the registers either is the walker's mistake, not the roots'.
        walker = PDPTES_FROM_MEMORY.replace("ok pdpte-register-walked", "not ok pdpte-register-walked: ...")
        self.assertIsNone(self.explain("prot-pg-pae.elf", 3, walker))

    def test_single_step_broken_everywhere_is_not_that(self):
        self.assertIsNone(self.explain("prot-vmx-reinject.elf", 3, SINGLE_STEP_BROKEN))

    def test_host_rip_never_written(self):
        d = self.explain("prot-vmx-io.elf", "FAIL_ENTRY", HOST_RIP_CHECKER)
        self.assert_names(d, "vmx_setup_host_state", "HOST_RIP was never written", "address 0")
        d = self.explain("prot-vmx-io.elf", "HOST_FAULT", HOST_RIP_JUMP_TO_ZERO)
        self.assert_names(d, "vmx_setup_host_state", "address 0", "HOST_RIP")

    def test_nothing_to_say(self):
        self.assertIsNone(self.explain("real-hello.bin", 1, PASSED))
        self.assertIsNone(self.explain("real-pio.bin", 3, UNRELATED_FAILURE))
        self.assertIsNone(diagnose.explain(None, None, ""))
        self.assertIsNone(diagnose.explain(None, 3, None))

    def test_the_notes_come_before_the_guests_word(self):
        # A run with the VMM's CS.base note and a failing string I/O check: the
        # note names the cause the later failures follow from.
        d = self.explain("real-string-pio.bin", 3, CS_BASE_GUEST_NEVER_RAN + REP_INS_FIRST_ONLY)
        self.assertEqual(d.region, "vcpu_setup_real")


class KitStillSaysItTest(unittest.TestCase):
    """The words explain() matches, where the kit prints them, and the regions it names."""

    def assert_in_file(self, rel, *texts):
        text = (ROOT / rel).read_text()
        for t in texts:
            self.assertIn(t, text, f"{rel} no longer says {t!r}: update grader/lib/diagnose.py")

    def test_vmm_notes_and_endings(self):
        self.assert_in_file("solution/vmm/run.c", "note: vCPU %d is in real mode with CS.base 0x%llx, not "
                            "CS.selector 0x%04x << 4 = 0x%llx", "note: vCPU %d enters the %s image with CR0.PE clear "
                            "(CR0 0x%llx)", "note: vCPU %d enters the %s image with CS.L clear (CS 0x%x")
        self.assert_in_file("solution/vmm/util.c", diagnose.REAL_TIMEOUT)
        self.assert_in_file("solution/vmm/vmm.c", diagnose.NOBODY_STOPPED.removeprefix("vmm: "))
        self.assert_in_file("solution/vmm/vm.c", "vcpu_check_entry_state(vcpu);",
                            '"KVM_SET_USER_MEMORY_REGION slot %u (%s at 0x%llx): %s"')
        self.assert_in_file("solution/vmm/linux/kvm_linux.c", '"vmm: read past the kvm_run mapping of vCPU fd "',
                            '"-byte mapping; map the size KVM_GET_VCPU_MMAP_SIZE returns (exit status "')

    def test_minikvm_and_host(self):
        self.assert_in_file("solution/kvm/vmx/vmx_entry_check.c", '"HOST_RIP is 0: the VMCS field was never written')
        self.assert_in_file("solution/kvm/vmx/vmx.c", 'printf("vmentry-check: %s\\n", f->message);')
        self.assert_in_file("solution/kvm/vmx/vmx_entry_check.c", "must be usable", "G must be 0: limit 0x%x")
        self.assert_in_file("solution/host/cpu.c", '"  error code %#lx  rip %#lx', '"  code at rip:"')
        self.assert_in_file("solution/kvm/vmx/vmx.c", diagnose.VMXON_FAILED)

    def test_guest_checks(self):
        g = "grader/guests/"
        self.assert_in_file(g + "real-hello.c", '"entry-no-fault"')
        self.assert_in_file(g + "real-string-pio.c", '"rep-outsb"', '"rep-outsw"', '"rep-insb"', '"rep-insw"',
                            '"rep-insl"', "the first was served")
        self.assert_in_file(g + "real-busy.c", '"busy: round %u of %u\\n"')
        self.assert_in_file(g + "long-hello.c", '"map-rom"', "want identity")
        self.assert_in_file(g + "mb-hello.c", '"cr0-pe-set"', '"flat-segment-bases"', '"flat-segment-limits"')
        self.assert_in_file(g + "prot-vmx-msr.c", '"rdmsr-bogus-gp-at-rdmsr"', '"wrmsr-bogus-gp-at-wrmsr"')
        self.assert_in_file(g + "prot-vmx-reinject.c", '"single-step-trap"', '"single-step-trap-redelivered"')
        self.assert_in_file(g + "prot-pg-pae.c", '"pdpte-memory-not-loaded"', '"pdpte-register-walked"',
                            '"pdpte-register-kept-by-cr0-wp"', '"pdpte-loaded-by-mov-cr3"')
        listed = (ROOT / g / "guests.list").read_text()
        for guest in diagnose.LONG_RUNNING_GUESTS:
            self.assertIn(guest, listed)

    def test_every_region_named_is_a_lab_region(self):
        named = set()
        for fixture, guest in ((CS_BASE_GUEST_RAN, "real-hello.bin"), (EINTR_FATAL, "real-busy.bin"),
                               (REP_INS_FIRST_ONLY, "real-string-pio.bin"), (CR0_PE_MULTIBOOT, "mb-hello.elf"),
                               (FLAT_LIMITS, "mb-hello.elf"), (RDMSR_RIP_ADVANCED, "prot-vmx-msr.elf"),
                               (EVENT_NOT_REDELIVERED, "prot-vmx-reinject.elf"), (HOST_RIP_CHECKER, "prot-vmx-io.elf"),
                               (CS_L_FROM_AVL, "long-hello.elf"), (PDE_STRIDE_4K, "long-hello.elf"),
                               (CS_NOT_PRESENT_VTX, "prot-hello.elf"), (RUN_AREA_ONE_PAGE, "real-hello.bin"),
                               (MEMSLOT_SIZE_IN_PAGES, "real-hello.bin"), (MEMSLOT_HVA_TRUNCATED, "real-hello.bin"),
                               (VMXON_UD, "prot-hello.elf"), (VMXON_VMFAIL, "prot-hello.elf")):
            named.add(diagnose.explain(test(guest), 3, fixture).region)
        named.add("handle_wrmsr")
        lab_regions = {r.name for src in regions.scan(ROOT / "solution").values() for r in src.lab_regions()}
        self.assertEqual(named - lab_regions, set())


class SetupStepTest(unittest.TestCase):
    """A lab 01 setup exercise that fails before the guest runs is named by the
    subsystem the VMM says failed, not by the rubric line's exercise."""

    def explain(self, transcript):
        return diagnose.explain(test("real-hello.bin"), STATUS["KVM_SETUP"], transcript)

    def test_vm(self):
        d = self.explain("vmm: KVM_GET_VCPU_MMAP_SIZE: too small\nvmm: setting up the vm failed: Invalid argument (exit status 6)\n")
        self.assertEqual(d.region, "vm_create")

    def test_open(self):
        d = self.explain("vmm: KVM API version 11, expected 12\nvmm: setting up the vm failed: Invalid argument (exit status 6)\n")
        self.assertEqual(d.region, "vmm_open_kvm")

    def test_memory_and_vcpus(self):
        self.assertEqual(self.explain("vmm: setting up the memory failed: Bad address (exit status 6)\n").region,
                         "vm_set_memslot")
        self.assertEqual(self.explain("vmm: setting up the vcpus failed: Bad address (exit status 6)\n").region,
                         "vcpu_create")

    def test_io_data_outside_run(self):
        d = diagnose.explain(test("real-hello.bin"), STATUS["INTERNAL_ERROR"],
                             "vmm: I/O exit data outside the kvm_run area (exit status 12)\n")
        self.assertEqual(d.region, "vm_create")

    def test_the_words_are_the_vmms(self):
        vmm_c = (ROOT / "solution" / "vmm" / "vmm.c").read_text()
        run_c = (ROOT / "solution" / "vmm" / "run.c").read_text()
        self.assertIn('"setting up the %s failed', vmm_c)
        self.assertIn("I/O exit data outside the kvm_run area", run_c)
        for name in diagnose.SETUP_STEPS:
            self.assertIn(f'"{name}"', vmm_c, f"no subsystem named {name} in vmm.c")



# vmx_construct_eptp with the page-walk length 4 in bits 5:3 (lab 06): the first
# INVEPT, on the new root, refuses it (trimmed transcript of real-hello.bin).
INVEPT_BAD_EPTP = """\
kvmlabs-host: 127 MiB RAM, TSC 49 MHz, 1 guest file(s), VMM on minikvm
minikvm: INVEPT of the EPT pointer 0x1be066 failed: VM-instruction error 28: invalid operand to INVEPT/INVVPID (SDM Vol. 3 31.4)
vmm: vCPU 0 KVM internal error 4 (unexpected exit reason); data 0x5 0x201a 0x1be066 0x1c (exit status 12)
"""

# make_ept_leaf_spte with the memory type unshifted would give W|X; with it in
# bits 5:3 as 2 (reserved) the processor refuses the leaf.
EPT_LEAF_MISCONFIG = """\
minikvm: EPT misconfiguration at GPA 0x100000, and the entry there is no MMIO spte: level 4 0x1c0107 level 3 0x1c1107 level 2 0x1c2107 level 1 0x100157: memory type 2, 3 or 7 in bits 5:3 (reserved) (SDM Vol. 3 29.3.3.1)
vmm: vCPU 0 KVM internal error 1 (emulation) (exit status 12)
"""

# is_mmio_spte() that does not know make_mmio_spte()'s entries.
EPT_MMIO_UNKNOWN = """\
minikvm: EPT misconfiguration at GPA 0xc8000000, and the entry there is no MMIO spte: level 4 0x1c0107 level 3 0x1c1107 level 2 0x1c3107 level 1 0xc8000016: writable but not readable (bit 1 set, bit 0 clear) (SDM Vol. 3 29.3.3.1)
"""


class EptTest(unittest.TestCase):
    def explain(self, transcript):
        return diagnose.explain(test("long-ept-mmio.elf"), STATUS["INTERNAL_ERROR"], transcript)

    def test_bad_eptp(self):
        d = self.explain(INVEPT_BAD_EPTP)
        self.assertEqual(d.region, "vmx_construct_eptp")
        self.assertIn("0x1be066", d.reason)

    def test_good_eptp_refused(self):
        d = self.explain(INVEPT_BAD_EPTP.replace("0x1be066", "0x1be05e"))
        self.assertEqual(d.region, "vmx_flush_tlb_all")

    def test_leaf_misconfigured(self):
        d = self.explain(EPT_LEAF_MISCONFIG)
        self.assertEqual(d.region, "make_ept_leaf_spte")
        self.assertIn("memory type 2, 3 or 7", d.reason)

    def test_misconfig_at_a_good_leaf(self):
        t = ("minikvm: EPT misconfiguration at GPA 0x0, and the entry there is no MMIO spte: level 4 0x1c0107 "
             "level 3 0x1c1107 level 2 0xf7 (SDM Vol. 3 29.3.3.1)\n")
        self.assertEqual(self.explain(t).region, "handle_ept_misconfig")

    def test_mmio_spte_not_recognised(self):
        self.assertEqual(self.explain(EPT_MMIO_UNKNOWN).region, "is_mmio_spte")

    def test_the_words_are_minikvms(self):
        vmx_c = (ROOT / "solution" / "kvm" / "vmx" / "vmx.c").read_text()
        mmu_c = (ROOT / "solution" / "kvm" / "mmu" / "mmu.c").read_text()
        self.assertIn('"minikvm: INVEPT of the EPT pointer 0x%llx failed"', vmx_c)
        self.assertIn('"minikvm: EPT misconfiguration at GPA 0x%llx, and the entry there is no MMIO spte:"', mmu_c)
        self.assertIn('" level %d 0x%llx%s%s"', mmu_c)


if __name__ == "__main__":
    unittest.main()