"""What a failed VM entry says, for people: raw exit reasons and VM-instruction
errors decoded by name, and the @lab region that writes the VMCS field a
`vmentry-check:` line names.

The names are minikvm's own (solution/kvm/vmx/vmcs.h and vmx_names.c), read
from the source so that no table is copied; a few descriptions of the exit
reasons that only a failed entry gives are the SDM's words (Vol. 3 27.8).
"""
import functools
import re
from pathlib import Path

from .labs import ROOT

VMCS_H = Path("solution", "kvm", "vmx", "vmcs.h")
NAMES_C = Path("solution", "kvm", "vmx", "vmx_names.c")
FAILED_VMENTRY = 1 << 31

# Exit reasons of a VM entry that failed after the processor began loading the guest (SDM Vol. 3 27.8).
ENTRY_FAILURES = {33: "invalid guest state", 34: "MSR loading", 41: "machine-check event"}
# Used when minikvm's sources are not at hand (a submission's checkout, a unit test).
FALLBACK_ERRORS = {7: "VM entry with invalid control field(s)", 8: "VM entry with invalid host-state field(s)"}

REASON = re.compile(r"(hardware_entry_failure_reason|entry failure reason|exit reason) (0x[0-9a-fA-F]+)")
CHECK = re.compile(r"^vmentry-check:\s+(.*?) 0x[0-9a-fA-F]+:")
CHECK_FIELD = re.compile(r"^vmentry-check:\s+(HOST|GUEST)_(\w+)")     # a kit rule naming the VMCS field


@functools.lru_cache(maxsize=None)
def exit_reason_names(root=ROOT):
    """{number: name} of the basic exit reasons in vmcs.h (EXIT_REASON_INVALID_STATE = 33 -> INVALID_STATE)."""
    try:
        text = Path(root, VMCS_H).read_text(encoding="utf-8")
    except OSError:
        return {n: f"exit reason {n}" for n in ENTRY_FAILURES}
    return {int(v): n for n, v in re.findall(r"\bEXIT_REASON_(\w+)\s*=\s*(\d+)", text) if n != "MAX"}


@functools.lru_cache(maxsize=None)
def instruction_errors(root=ROOT):
    """{number: text} of the VM-instruction errors (SDM Vol. 3 31.4) in vmx_names.c."""
    try:
        text = Path(root, NAMES_C).read_text(encoding="utf-8")
    except OSError:
        return dict(FALLBACK_ERRORS)
    table = text[text.find("vmx_instruction_errors"):]
    return {int(n): s for n, s in re.findall(r'^\s*\[(\d+)\]\s*=\s*"([^"]*)"', table, re.M)} or dict(FALLBACK_ERRORS)


def decode_failure_reason(value, root=ROOT):
    """What a KVM_EXIT_FAIL_ENTRY's hardware_entry_failure_reason means. With bit 31
    set it is the exit reason of a failed entry; otherwise (Linux KVM, minikvm) the
    VM-instruction error of a VMLAUNCH/VMRESUME that failed as an instruction."""
    if value & FAILED_VMENTRY:
        basic = value & 0xffff
        name = exit_reason_names(root).get(basic, "unknown")
        what = ENTRY_FAILURES.get(basic)
        return (f"VM-entry failure (bit 31), basic exit reason {basic} {name}" +
                (f": {what}" if what else "") + " (SDM Vol. 3 27.8)")
    if value == 0:
        return "VMfailInvalid or no reason given"
    error = instruction_errors(root).get(value)
    return f"VM-instruction error {value}: {error} (SDM Vol. 3 31.4)" if error else f"VM-instruction error {value}"


def annotate(line, root=ROOT):
    """The line with each raw failure reason it holds decoded in brackets after it."""
    if "entry" not in line.lower():
        return line

    def one(m):
        return f"{m[0]} [{decode_failure_reason(int(m[2], 16), root)}]"
    return REASON.sub(one, line)


# The region that writes the field a vmentry-check line names, first match wins
# (lab 04: exercise 1 controls, 3 host state, 4 and 5 guest state).
FIELD_REGIONS = (
    (re.compile(r"^host "), "vmx_setup_host_state"),
    (re.compile(r"^guest \w+\.AR$"), "vmx_segment_access_rights"),
    (re.compile(r"^guest (ES|CS|SS|DS|FS|GS|TR|LDTR)(\.| selector)"), "vmx_set_segment"),
    (re.compile(r"^guest RIP$"), "vmx_vcpu_run"),
    (re.compile(r"^(guest activity state|guest interruptibility state|guest pending debug exceptions|"
                r"VMCS link pointer|guest DR7|guest IA32_DEBUGCTL)$"), "vmx_init_guest_nonregister_state"),
    (re.compile(r"^guest "), None),        # guest state the kit writes: the guest-state exercise
    (re.compile(r""), "vmx_adjust_controls"),   # the VM-execution, VM-exit and VM-entry control fields
)
GUEST_STATE_REGION = "vmx_set_segment"     # which exercise "the guest-state exercise" is
# A check that refuses the event being injected (RFLAGS.IF clear, STI or MOV SS blocking
# while an external interrupt goes in) is the injection decision's (lab 08), whatever
# field it names.
INJECTION_CHECK = re.compile(r"inject(ing)? an external interrupt")
INJECTION_REGION = "kvm_event_decide"


def check_field(line):
    """The field a vmentry-check line is about ("guest CS.AR"; "HOST_RIP is 0: ..." gives
    "host RIP"), or None."""
    m = CHECK.match(line)
    if m:
        return m[1]
    m = CHECK_FIELD.match(line)
    return f"{m[1].lower()} {m[2]}" if m else None


def check_region(line):
    """(region, category) for a vmentry-check line: the @lab region that writes its
    field (None when the kit writes it) and "controls", "host" or "guest"; None
    when the line is not a check."""
    what = check_field(line)
    if what is None:
        return None
    category = "host" if what.startswith("host ") else "guest" if what.startswith(("guest ", "VMCS link")) \
        else "controls"
    if INJECTION_CHECK.search(line):
        return INJECTION_REGION, category
    region = next(r for pat, r in FIELD_REGIONS if pat.search(what))
    return region, category
