#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Which emulator runs the bare-metal host kernel (minikvm), and why.

  bochs     Bochs 2.7, CPU model corei7_skylake_x: software VMX with EPT and
            unrestricted guest. Always works, slow (tens of MIPS).
  qemu      QEMU with KVM and nested VMX (-cpu host,+vmx): native speed, needs
            an Intel host whose kvm_intel module has nested=Y and a usable /dev/kvm.
  qemu-tcg  QEMU's emulator: no VMX at all, so minikvm cannot start; boots the
            host kernel itself (a test of everything but VMX).

`auto` picks qemu when nested VMX is available, else bochs.

Run as a script it prints the choice and the reason (used by `make doctor`);
exit status 0 when some platform can run minikvm, 1 otherwise.
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

BOCHS_BIOS = "/usr/share/bochs/BIOS-bochs-latest"
BOCHS_VGABIOS = "/usr/share/vgabios/vgabios.bin"
NESTED_PARAM = "/sys/module/kvm_intel/parameters/nested"
PLATFORMS = ("auto", "bochs", "qemu", "qemu-tcg")


def bochs_problem():
    """None when Bochs can run the kernel, else what is missing."""
    if not shutil.which("bochs"):
        return "bochs is not installed (apt-get install bochs bochsbios vgabios)"
    for path, package in ((BOCHS_BIOS, "bochsbios"), (BOCHS_VGABIOS, "vgabios")):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install {package})"
    return None


def qemu_problem():
    """None when QEMU exists, else what is missing."""
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    return None


def nested_vmx_problem():
    """None when QEMU can use KVM with nested VMX, else why not."""
    try:
        nested = Path(NESTED_PARAM).read_text().strip()
    except OSError:
        return ("the kvm_intel module is not loaded (no Intel VT-x host KVM here), "
                "so QEMU cannot offer VMX to the host kernel")
    if nested not in ("Y", "y", "1"):
        return (f"kvm_intel has nested={nested}; enable it with "
                "'modprobe -r kvm_intel; modprobe kvm_intel nested=1'")
    if not Path("/dev/kvm").exists():
        return "/dev/kvm does not exist"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        os.close(fd)
    except OSError as e:
        return f"/dev/kvm is not usable: {e.strerror} (add yourself to the kvm group)"
    return qemu_problem()


def choose(requested="auto"):
    """(platform, reason) for a requested platform; platform is None when it cannot run."""
    if requested not in PLATFORMS:
        return None, f"unknown platform '{requested}' (choose from {', '.join(PLATFORMS)})"
    if requested == "qemu-tcg":
        problem = qemu_problem()
        if problem:
            return None, problem
        return "qemu-tcg", "QEMU TCG as requested: boots the host kernel, but TCG has no VMX, so minikvm cannot run"
    if requested == "qemu":
        problem = nested_vmx_problem()
        if problem:
            return None, problem
        return "qemu", "QEMU with KVM and nested VMX as requested"
    if requested == "bochs":
        problem = bochs_problem()
        if problem:
            return None, problem
        return "bochs", "Bochs as requested (software VMX with EPT and unrestricted guest)"
    nested = nested_vmx_problem()
    if nested is None:
        return "qemu", "nested VMX is available: QEMU with KVM runs minikvm at native speed"
    bochs = bochs_problem()
    if bochs is None:
        return "bochs", f"Bochs (software VMX with EPT and unrestricted guest), because {nested}"
    return None, f"neither platform works: {nested}; {bochs}"


def main(argv):
    p = argparse.ArgumentParser(prog="platforms.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("platform", nargs="?", default="auto", choices=PLATFORMS,
                   help="the platform asked for (default auto)")
    platform, reason = choose(p.parse_args(argv).platform)
    if platform is None:
        print(f"bare-metal platform: none: {reason}")
        return 1
    print(f"bare-metal platform: {platform}: {reason}")
    return 0 if platform != "qemu-tcg" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
