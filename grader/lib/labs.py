"""The labs of the kit: where they are and which platform grades them."""
import glob
import os

# DESIGN.md's stage table: which kernel a lab's guests run on.
PLATFORM = {1: "linux-kvm", 2: "linux-kvm", 3: "linux-kvm", 4: "minikvm", 5: "minikvm",
            6: "minikvm", 7: "minikvm", 8: "minikvm", 9: "both"}


def lab_dir(root, lab):
    found = sorted(glob.glob(os.path.join(root, "labs", f"{lab:02d}-*")))
    return found[0] if found else None


def existing(root):
    """Numbers of the labs that have a directory and a rubric."""
    out = []
    for d in sorted(glob.glob(os.path.join(root, "labs", "[0-9][0-9]-*"))):
        if os.path.exists(os.path.join(d, "rubric")):
            out.append(int(os.path.basename(d)[:2]))
    return out


def parse_lab(text):
    s = str(text).strip()
    if not s.isdigit() or not 1 <= int(s) <= 9:
        raise ValueError(f"LAB must be a lab number 01..09, not '{text}'")
    return int(s)
