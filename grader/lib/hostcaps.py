"""What this host's Linux KVM can run: whether /dev/kvm is usable, its flavour, the capabilities
rubric lines may need (needs=). The bare-metal platform is grader/baremetal/platforms.py's."""
import os
from pathlib import Path

# Capabilities a rubric line may need (needs=...), and who provides them.
#   vmcall    the kvmlabs hypercall ABI: minikvm only (Linux KVM answers -KVM_ENOSYS,
#             and the PVM flavour never returns from VMCALL at all)
#   paging32  32-bit and PAE paging (not on the PVM flavour)
#   int       software interrupts at CPL0 (not on the PVM flavour)
#   vmxon-ud  VMXON in a guest raises #UD (the PVM flavour fails to emulate it instead)
#   cpl0-ud   an undefined opcode at CPL0 raises #UD (the PVM flavour emulates CPL0 code
#             and stops with KVM_EXIT_INTERNAL_ERROR instead)
#   force-emulation  the forced-emulation prefix (ud2; "kvm") makes the hypervisor emulate
#             the instruction after it: minikvm from stage 07, Linux KVM only with
#             kvm.force_emulation_prefix=1
LINUX_CAPS_ALWAYS = {"smp", "irqchip"}
FORCE_EMULATION_PARAM = Path("/sys/module/kvm/parameters/force_emulation_prefix")
#   apic-isr  the local APIC keeps a delivered vector in ISR (and PPR) until its EOI
#             (the PVM flavour reads ISR and PPR as 0 in a handler)
#   irq-window  a pending interrupt is taken right after STI's one-instruction shadow
#             (the PVM flavour takes it only at the next VM exit)
#   timer-rate  timer interrupts (PIT, LAPIC) arrive at their rate even when the host is
#             busy (the PVM flavour lost half the PIT's ticks with two other jobs running:
#             a guest that counts ticks against the TSC cannot be compared there)
#   linux     boots the kit's Linux (grader/linux): the PVM flavour stops before its first
#             console line (HOST-KVM.md: measured, 20 s without a byte of output)
LINUX_CAPS_HW = {"paging32", "int", "vmxon-ud", "cpl0-ud", "apic-isr", "irq-window", "timer-rate", "linux"}


def kvm_flavour():
    for module, name in (("kvm_pvm", "pvm"), ("kvm_intel", "vmx"), ("kvm_amd", "svm")):
        if Path("/sys/module", module).is_dir():
            return name
    return "unknown"


def kvm_usable():
    """(usable, reason) for /dev/kvm."""
    if not Path("/dev/kvm").exists():
        return False, "/dev/kvm does not exist (no KVM module loaded, or no virtualization)"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True, "/dev/kvm is usable"
    except OSError as e:
        return False, f"/dev/kvm: {e.strerror} (join its group: sudo usermod -aG kvm $USER, then log in again)"


def linux_caps():
    ok, _ = kvm_usable()
    if not ok:
        return None
    caps = set(LINUX_CAPS_ALWAYS)
    if kvm_flavour() != "pvm":
        caps |= LINUX_CAPS_HW
    try:
        if FORCE_EMULATION_PARAM.read_text().strip() not in ("", "0", "N"):
            caps.add("force-emulation")
    except OSError:
        pass
    return caps


def missing(needs, caps):
    return [n for n in needs if caps is None or n not in caps]


def reason_missing(need):
    return {
        "vmcall": "Linux KVM does not implement the kvmlabs hypercalls (and its PVM flavour never returns from VMCALL)",
        "paging32": "this host KVM (PVM flavour) cannot run 32-bit or PAE paging",
        "int": "this host KVM (PVM flavour) cannot emulate int n at CPL0",
        "vmxon-ud": "this host KVM (PVM flavour) cannot emulate VMXON to raise #UD",
        "force-emulation": "this host KVM does not honour the forced-emulation prefix (kvm.force_emulation_prefix is 0)",
        "timer-rate": "this host KVM (PVM flavour) does not keep timer interrupts at their rate while the host is busy",
        "apic-isr": "this host KVM (PVM flavour) does not keep delivered vectors in the local APIC's ISR and PPR",
        "irq-window": "this host KVM (PVM flavour) takes a pending interrupt only at the next VM exit, not after STI's shadow",
        "cpl0-ud": "this host KVM (PVM flavour) emulates CPL0 code and stops at an undefined opcode instead of raising #UD",
        "linux": "this host KVM (PVM flavour) cannot boot Linux (nothing on its console in 20 s)",
    }.get(need, f"host lacks '{need}'")

