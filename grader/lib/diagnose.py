"""Diagnosis: the cause of a failed run, named from its transcript.

A guest reports what it saw; some causes it cannot see. A real-mode vCPU
entered with CS.base left at KVM's reset value may never run the guest's first
instruction, and a run loop that gives up on -EINTR leaves the guest half done
with no "not ok" line at all. The VMM and minikvm say more than the guest can:
the VMM's "note:" lines on an entry state no correct setup leaves (run.c,
vcpu_check_entry_state and the register dump), minikvm's "vmentry-check:"
lines. explain() reads those and the guests' own check names and turns the
first that matches into one sentence naming the cause, and the @lab region
(function) where it lives, for the verdict and the handout pointer.

    d = explain(test, status, transcript)    # test: rubric.Test; status as runner.run gives it
    if d:
        result.reason, region = d.reason, d.region

Meant for a run that did not pass: it explains, it does not judge. Each rule
matches text that only the mistake it names produces on the solution's VMM and
guests; a rule that cannot tell returns nothing rather than guess.
"""
import re
from dataclasses import dataclass

from . import status as vmm_status


@dataclass(frozen=True)
class Diagnosis:
    reason: str               # one sentence naming the cause
    region: str | None = None  # the @lab region (function) to fix, e.g. "vcpu_setup_real"


# ---- the VMM's and minikvm's own notes ----------------------------------------------

# run.c note_real_mode(): "vmm: note: vCPU 0 is in real mode with CS.base 0xffff0000, not CS.selector ..."
REAL_CS_BASE = re.compile(r"^vmm: +note: vCPU (\d+) is in real mode with CS\.base (0x[0-9a-f]+), "
                          r"not CS\.selector (0x[0-9a-f]+) << 4 = (0x[0-9a-f]+)", re.M)
# run.c vcpu_check_entry_state(): a protected-mode image entered with CR0.PE clear.
PROT_WITHOUT_PE = re.compile(r"^vmm: note: vCPU (\d+) enters (?:an?|the) (\S+) image with CR0\.PE clear \(CR0 (0x[0-9a-f]+)\)",
                             re.M)
# run.c vcpu_check_entry_state(): a 64-bit image entered with EFER.LMA set but CS.L clear.
LONG_WITHOUT_L = re.compile(r"^vmm: note: vCPU (\d+) enters (?:an?|the) (\S+) image with CS\.L clear \(CS (0x[0-9a-f]+)", re.M)
CODE64_SELECTOR = 0x18      # guest_abi.h ABI_SEL_CODE64: the GDT's 64-bit code descriptor
# minikvm's VM-entry checker, kit rule kit-host-rip-written.
HOST_RIP_UNSET = re.compile(r"^vmentry-check: HOST_RIP is 0\b", re.M)
# The bare-metal host's exception report: the host jumped to address 0.
HOST_AT_ZERO = re.compile(r"^kvmlabs-host: EXCEPTION .*\n\s+error code \S+\s+rip 0\s", re.M)


def _cs_base(test, status, transcript):
    m = REAL_CS_BASE.search(transcript)
    if m:
        reset = " (KVM's reset value, left in place)" if int(m[2], 16) == 0xffff0000 else ""
        return Diagnosis(f"CS.base is {m[2]}{reset}, not CS.selector {m[3]} * 16 = {m[4]}: in real mode "
                         f"vcpu_setup_real must set CS.base = CS.selector << 4 along with the selector",
                         "vcpu_setup_real")
    if re.search(r"^not ok entry-no-fault:", transcript, re.M):
        return Diagnosis("the vCPU faulted before the guest's first instruction: the real-mode entry state is "
                         "invalid, CS.base is not CS.selector * 16 (KVM's reset CS.base 0xffff0000 left in place?)",
                         "vcpu_setup_real")
    return None


def _cr0_pe(test, status, transcript):
    m = PROT_WITHOUT_PE.search(transcript)
    if m or re.search(r"^not ok cr0-pe-set:", transcript, re.M):
        what = f"the {m[2]} image was entered with CR0 {m[3]}" if m else "the guest found CR0.PE clear"
        return Diagnosis(f"CR0.PE was never set: {what}, so the vCPU runs in real mode; setup_flat must load the "
                         f"cr0 it is given (PE for protected mode, PE|PG for long mode) into the sregs",
                         "setup_flat")
    return None


def _cs_long(test, status, transcript):
    m = LONG_WITHOUT_L.search(transcript)
    if not m:
        return None
    if int(m[3], 16) == CODE64_SELECTOR:
        return Diagnosis(f"the {m[2]} image was entered with CS.L clear although CS {m[3]} is the 64-bit code "
                         f"descriptor: the vCPU decodes 64-bit code in compatibility mode; segment_from_descriptor "
                         f"must take L from descriptor bit 53", "segment_from_descriptor")
    return Diagnosis(f"the {m[2]} image was entered with CS {m[3]}, not the 64-bit code selector "
                     f"{CODE64_SELECTOR:#x}: CS.L is clear and the vCPU runs in compatibility mode; setup_flat "
                     f"must load CS from the 64-bit code descriptor for long mode", "setup_flat")


# The host's exception report (host/cpu.c) when its VMXON (F3 0F C7 /6, SDM Vol. 3C 31.3) raised
# #UD: CR4.VMXE was clear (SDM Vol. 3C 24.7, "Enabling and Entering VMX Operation").
HOST_UD_CODE = re.compile(r"^kvmlabs-host: EXCEPTION #UD .*?^\s+code at rip: f3 0f c7 ([0-9a-f]{2})", re.M | re.S)
# vmx.c vmx_hardware_enable(): VMXON returned VMfail.
VMXON_FAILED = "minikvm: VMXON failed"


def _vmxon(test, status, transcript):
    m = HOST_UD_CODE.search(transcript)
    if m and (int(m[1], 16) >> 3) & 7 == 6:
        return Diagnosis("the host's VMXON raised #UD: CR4.VMXE was clear when it ran; vmx_hardware_enable must "
                         "set CR4.VMXE (and the CR0/CR4 fixed bits) before VMXON", "vmx_hardware_enable")
    if VMXON_FAILED in transcript:
        return Diagnosis("VMXON failed (VMfailInvalid): the VMXON region must be a zeroed, 4 KiB-aligned page "
                         "starting with the VMCS revision identifier of IA32_VMX_BASIC[30:0]; "
                         "vmx_hardware_enable prepares it", "vmx_hardware_enable")
    return None


def _host_rip(test, status, transcript):
    if HOST_RIP_UNSET.search(transcript):
        return Diagnosis("HOST_RIP was never written: the first VM exit would resume the host at address 0; "
                         "vmx_setup_host_state must write HOST_RIP = vmx_vmexit", "vmx_setup_host_state")
    if HOST_AT_ZERO.search(transcript):
        return Diagnosis("the host kernel jumped to address 0, as a VM exit does when HOST_RIP was never "
                         "written (vmx_setup_host_state must write HOST_RIP = vmx_vmexit)", "vmx_setup_host_state")
    return None


# vmm.c vm_init_state(): a subsystem whose init failed ends the run with
# "setting up the <name> failed"; run.c: an I/O exit whose data lies outside
# the mapped kvm_run area (its size comes from KVM_GET_VCPU_MMAP_SIZE).
SETUP_FAILED = re.compile(r"^vmm: setting up the (\S+) failed", re.M)
IO_DATA_OUTSIDE_RUN = re.compile(r"I/O exit data outside the kvm_run area")
OPEN_KVM_WORDS = re.compile(r"/dev/kvm|API version|KVM_GET_API_VERSION")

# Lab 01's setup steps: the subsystem that failed, and the exercise behind it.
SETUP_STEPS = {
    "vm": ("vm_create", "the VM could not be set up (KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE)"),
    "memory": ("vm_set_memslot", "guest RAM could not be given to KVM (KVM_SET_USER_MEMORY_REGION)"),
    "vcpus": ("vcpu_create", "the vCPUs could not be created or their kvm_run areas mapped"),
}


# linux/kvm_linux.c: the guard page after a vCPU's kvm_run mapping was read.
RUN_MAPPING_OVERRUN = re.compile(r"^vmm: read past the kvm_run mapping of vCPU fd \d+: (.*?); map", re.M)
# A memory slot KVM refused (memory.c): "vmm: KVM_SET_USER_MEMORY_REGION slot 1 (rom at 0xffff0000): Invalid argument".
MEMSLOT_REFUSED = re.compile(r"^vmm: KVM_SET_USER_MEMORY_REGION slot (\d+) \(([^)]*)\): (.*)$", re.M)
# KVM could not fetch the first instruction: an emulation failure (suberror 1) without instruction
# bytes (flags, data[0], 0) at the very first exit. Guest RAM that KVM reaches through the slot's
# userspace_addr is not the VMM's: the guest's code is not where KVM looks.
FIRST_FETCH_FAILED = re.compile(r"^vmm: vCPU \d+ registers after 1 exits:.*?^vmm: vCPU \d+ KVM internal error 1 "
                                r"\(instruction emulation failed\); data 0x0\b", re.M | re.S)


def _memory_view(test, status, transcript):
    m = RUN_MAPPING_OVERRUN.search(transcript)
    if m:
        return Diagnosis(f"the VMM read past its mapping of the vCPU's kvm_run area ({m[1]}): vcpu_create must map "
                         f"the whole area, the size KVM_GET_VCPU_MMAP_SIZE returns, not one page", "vcpu_create")
    m = MEMSLOT_REFUSED.search(transcript)
    if m:
        return Diagnosis(f"KVM refused memory slot {m[1]} ({m[2]}): {m[3]}; KVM_SET_USER_MEMORY_REGION takes "
                         f"guest_phys_addr, memory_size (in bytes) and userspace_addr, all page-aligned",
                         "vm_set_memslot")
    if FIRST_FETCH_FAILED.search(transcript):
        return Diagnosis("KVM could not fetch the guest's first instruction (an emulation failure with no "
                         "instruction bytes at the first exit): the memory slot does not give KVM the VMM's RAM; "
                         "userspace_addr must be the full 64-bit address of the mapping", "vm_set_memslot")
    return None


def _setup_step(test, status, transcript):
    m = SETUP_FAILED.search(transcript)
    if m and m[1] in SETUP_STEPS:
        region, what = SETUP_STEPS[m[1]]
        if m[1] == "vm" and OPEN_KVM_WORDS.search(transcript[:m.start()]):
            region, what = "vmm_open_kvm", "/dev/kvm could not be opened or its API version is not 12"
        return Diagnosis(f"setup failed before the guest ran: {what}", region)
    if IO_DATA_OUTSIDE_RUN.search(transcript):
        return Diagnosis("an I/O exit's data_offset points outside the mapped kvm_run area: the area must be "
                         "mapped with the size KVM_GET_VCPU_MMAP_SIZE returns", "vm_create")
    return None


# ---- the guests' own checks ---------------------------------------------------------


def _failed(transcript, *names):
    """The first 'not ok' line of one of the named checks, or None."""
    pat = "|".join(re.escape(n) for n in names)
    m = re.search(rf"^not ok ({pat}): (.*)$", transcript, re.M)
    return m


def _string_pio(test, status, transcript):
    m = _failed(transcript, "rep-outsb", "rep-outsw", "rep-insb", "rep-insw", "rep-insl")
    if not m:
        return None
    what, detail = m[1].replace("-", " "), m[2].split(":")[0]
    if m[1].startswith("rep-outs"):
        return Diagnosis(f"{what}: the device did not receive every element in order ({detail}); handle_io must "
                         f"write each of io.count elements, the i-th at data_offset + i * size", "handle_io")
    if "the first was served" in m[2]:
        return Diagnosis(f"{what} read wrong data ({detail}): handle_io served only the first element of a string "
                         f"I/O exit; each of io.count elements must go through the bus, the i-th at "
                         f"data_offset + i * size", "handle_io")
    return Diagnosis(f"{what} read wrong data ({detail}): handle_io did not store every element a rep ins read "
                     f"into its slot of the data page", "handle_io")


def _msr_fault_rip(test, status, transcript):
    m = _failed(transcript, "rdmsr-bogus-gp-at-rdmsr", "wrmsr-bogus-gp-at-wrmsr")
    if m:
        insn = "RDMSR" if m[1].startswith("rdmsr") else "WRMSR"
        return Diagnosis(f"RIP was advanced past a {insn} that raised #GP: #GP is a fault, so the handler must "
                         f"queue it and return without skipping the instruction ({m[2].split(':')[0]})",
                         f"handle_{insn.lower()}")
    return None


def _reinject(test, status, transcript):
    if _failed(transcript, "single-step-trap-redelivered") and re.search(r"^ok single-step-trap$", transcript, re.M):
        return Diagnosis("an event whose delivery a VM exit interrupted was lost: after each exit the "
                         "IDT-vectoring information must put the event back in the queues "
                         "(vmx_complete_interrupts() in vmx_vcpu_run) to be delivered again at the next entry",
                         "vmx_vcpu_run")
    return None


def _pdpte_registers(test, status, transcript):
    # prot-pg-pae: PDPTEs count from the registers MOV CR3 loads (SDM Vol. 3 4.4.1). When a page never
    # touched is walked from the registers (the walker is right) but the PDPTE checks around CR3 loads and
    # mode changes fail, the shadow roots were built from something else: the table in memory.
    m = _failed(transcript, "pdpte-memory-not-loaded", "pdpte-register-kept-by-cr0-wp", "pdpte-loaded-by-mov-cr3",
                "pdpte-loaded-by-mov-cr3-2", "pdpte-restored")
    if m and re.search(r"^ok pdpte-register-walked$", transcript, re.M):
        return Diagnosis("a PAE guest's shadow roots do not follow its PDPTE registers: they must come from the "
                         "registers (the cpu_mode's pdptrs, loaded by MOV CR3 and by the CR0/CR4 writes that load "
                         "them), not from the page-directory-pointer table in memory, when "
                         "mmu_alloc_shadow_roots builds the roots", "mmu_alloc_shadow_roots")
    return None


def _flat_segments(test, status, transcript):
    m = _failed(transcript, "flat-segment-bases", "flat-segment-limits")
    if m:
        what = "base" if m[1].endswith("bases") else "limit"
        return Diagnosis(f"a segment register's hidden {what} is not flat ({m[2]}): segment_from_descriptor must "
                         f"unpack base and limit from the descriptor, the limit scaled to bytes when G=1",
                         "segment_from_descriptor")
    return None


# minikvm's VM-entry checker on a guest segment register: "vmentry-check: guest CS.AR 0xc09b: G must
# be 0: limit 0xfffff000 has a 0 in bits 11:0 (SDM 27.3.1.2)". The VMM built that segment from its
# descriptor (segment_from_descriptor) and KVM_SET_SREGS carried it into the VMCS unchanged; when
# the student's VMX code (lab 04) writes it, lib/pointer.py's vmentry rule names that region first.
SEGMENT_REFUSED = re.compile(r"^vmentry-check: +guest (ES|CS|SS|DS|FS|GS)\.(AR|limit|base|selector) \S+: (.*)$", re.M)


def _segment_refused(test, status, transcript):
    m = SEGMENT_REFUSED.search(transcript)
    if m:
        return Diagnosis(f"VT-x refuses the {m[1]} the VMM loaded ({m[3]}): segment_from_descriptor must unpack "
                         f"every field of the descriptor (present, type, G with the limit scaled to bytes)",
                         "segment_from_descriptor")
    return None


# long-hello walks the VMM's tables from CR3: "not ok map-rom: VA 0xffff0000 maps to PA 0xc01f0000
# (page shift 21), want identity". CR3 and the mode are right by then (cr3-pml4 passed first).
IDENTITY_MAP = re.compile(r"^not ok (map-[\w-]+): (.*)$", re.M)


def _identity_map(test, status, transcript):
    m = IDENTITY_MAP.search(transcript)
    if m:
        return Diagnosis(f"the VMM's page tables are not an identity map ({m[1]}: {m[2]}): page_tables_build must "
                         f"map every 2 MiB page of the first 4 GiB at its own physical address", "page_tables_build")
    return None


# ---- how the run ended ---------------------------------------------------------------

# Guests that run long stretches without a VM exit, so that the VMM's kick timer
# (vm_run_inline(), every 20 ms) interrupts KVM_RUN while they run.
LONG_RUNNING_GUESTS = {"real-busy.bin", "bad-loop.bin"}
BUSY_ROUND = re.compile(r"^busy: round (\d+) of (\d+)", re.M)
# The VMM's own words (util.c vm_stopping(), vmm.c vmm_run()): the --timeout
# supervisor's, and the fallback when the vCPUs ended with nobody calling vm_stop().
REAL_TIMEOUT = "timeout: the guest ran for"
NOBODY_STOPPED = "vmm: the vCPUs ended"
EINTR_MEANS = ("-EINTR only means a signal (the VMM's kick timer, every 20 ms) interrupted KVM_RUN: "
               "clear immediate_exit and enter the guest again")


def _eintr(test, status, transcript):
    """KVM_RUN returned -EINTR and the run loop did something else than go round again."""
    rounds = BUSY_ROUND.findall(transcript)
    where = f" (after round {rounds[-1][0]} of {rounds[-1][1]})" if rounds else ""
    if re.search(r"KVM_RUN[^\n]*(Interrupted|EINTR)", transcript):
        return Diagnosis(f"the run loop stopped the VM on -EINTR from KVM_RUN{where}: {EINTR_MEANS}",
                         "vcpu_run_loop")
    if status is None:
        return None
    try:
        statuses = vmm_status.load()
        timeout, halted, setup = statuses["TIMEOUT"], statuses["HALTED"], statuses["KVM_SETUP"]
    except (OSError, KeyError, ValueError):
        return None
    if status == timeout and REAL_TIMEOUT not in transcript:
        return Diagnosis(f"the VM ended with the timeout status long before --timeout{where}: the run loop took "
                         f"-EINTR from KVM_RUN for a timeout; {EINTR_MEANS} (vm_stopping() says when to stop)",
                         "vcpu_run_loop")
    if status == halted and NOBODY_STOPPED in transcript:
        return Diagnosis(f"the run loop returned with the VM still running and no handler stopping it{where}, as "
                         f"it does when it returns on -EINTR from KVM_RUN; {EINTR_MEANS}", "vcpu_run_loop")
    guest = getattr(test, "guest", None)
    if guest in LONG_RUNNING_GUESTS and status == setup and not re.search(r"^kvmlabs: end ", transcript, re.M):
        return Diagnosis(f"the run loop gave up while the guest ran without exits{where}, when KVM_RUN returned "
                         f"-EINTR: {EINTR_MEANS}", "vcpu_run_loop")
    return None


# vmx.c vmx_insn_failure_exit(): an INVEPT the processor refused, with the EPT pointer it was given.
INVEPT_FAILED = re.compile(r"^minikvm: INVEPT of the EPT pointer (0x[0-9a-f]+) failed", re.M)
# mmu.c tdp_explain_misconfig(): the processor refused an EPT entry that is no MMIO spte.
EPT_MISCONFIG = re.compile(r"^minikvm: EPT misconfiguration at GPA (0x[0-9a-f]+), and the entry there is no MMIO spte:"
                           r".* level (\d) (0x[0-9a-f]+)(?:: (.*?))? \(SDM Vol", re.M)


def _ept_pointer(test, status, transcript):
    # INVEPT single-context refuses an EPTP VM entry would refuse (SDM Vol. 3 31.3, 25.6.11): memory type
    # UC (0) or WB (6) in bits 2:0, the page-walk length less one (3) in bits 5:3. Such an EPTP is
    # vmx_construct_eptp's; a good one refused means the INVEPT itself is wrong.
    m = INVEPT_FAILED.search(transcript)
    if not m:
        return None
    eptp = int(m[1], 16)
    if eptp & 7 not in (0, 6) or (eptp >> 3) & 7 != 3:
        return Diagnosis(f"the EPT pointer {m[1]} is not one the processor takes: bits 2:0 must be the memory type "
                         f"(6, write-back) and bits 5:3 the page-walk length less one (3), SDM Vol. 3 25.6.11 "
                         f"(vmx_construct_eptp)", "vmx_construct_eptp")
    return Diagnosis(f"INVEPT refused a valid EPT pointer ({m[1]}): the type (single context, 1) goes in the "
                     f"register operand and the EPTP in the first quadword of the 16-byte descriptor, SDM Vol. 3 "
                     f"31.3 (vmx_flush_tlb_all)", "vmx_flush_tlb_all")


def _ept_entry(test, status, transcript):
    # An EPT entry the processor found misconfigured that is not an MMIO spte: W|X without R at the
    # leaf is the shape of an MMIO spte is_mmio_spte() did not recognise; anything else is a leaf or
    # link of the tables that breaks an SDM rule (make_ept_leaf_spte, or direct_map linking it).
    m = EPT_MISCONFIG.search(transcript)
    if not m:
        return None
    entry = int(m[3], 16)
    why = f" ({m[4].strip()})" if m[4] else ""
    if not m[4] and entry & 1:
        # The walk ended at a good, present leaf: the processor cannot have refused that one.
        return Diagnosis(f"the EPT misconfiguration was handled for GPA {m[1]}, where minikvm's entries are good (a "
                         f"present leaf 0x{entry:x}): the GPA handed to the MMU is not the one the processor "
                         f"reports in GUEST_PHYSICAL_ADDRESS (handle_ept_misconfig)", "handle_ept_misconfig")
    if entry & 7 == 6:
        return Diagnosis(f"an EPT misconfiguration at GPA {m[1]} found a write-only entry 0x{entry:x} at level "
                         f"{m[2]}: an MMIO spte that is_mmio_spte() does not recognise, or one of another "
                         f"generation layout than get_mmio_spte_generation() reads", "is_mmio_spte")
    return Diagnosis(f"the processor found the EPT entry 0x{entry:x} at level {m[2]} for GPA {m[1]} "
                     f"misconfigured{why}: EPT leaves must be readable, with memory type WB in bits 5:3 (SDM Vol. 3 "
                     f"29.3.3.1)", "make_ept_leaf_spte")


# In order: the VMM's own notes (causes the guest cannot see) before the guests' checks;
# a protected-mode image entered in real mode before the real-mode rules.
RULES = (_cr0_pe, _cs_long, _cs_base, _host_rip, _vmxon, _ept_pointer, _ept_entry, _memory_view, _setup_step, _eintr,
         _string_pio, _msr_fault_rip, _reinject, _pdpte_registers, _flat_segments, _segment_refused, _identity_map)


def explain(test, status, transcript):
    """The cause of the failed run of `test` (a rubric.Test; may be None), ended with
    `status` (the VMM's exit status, None if killed), whose output is `transcript`:
    a Diagnosis, or None when no rule recognises it."""
    transcript = transcript or ""
    for rule in RULES:
        d = rule(test, status, transcript)
        if d:
            return d
    return None
