"""Building a stage: solution/ with a lab's files taken from labs/ (DESIGN.md, Stages).

    student     lab N's files from labs/NN-*, everything else from solution/
    solution    solution/ as it is (SOLUTION=1)
    cumulative  the files of every lab <= N from labs/ (CUMULATIVE=1)
"""
import os
import shutil
import subprocess

from . import labs, regions

VARIANTS = ("student", "solution", "cumulative")

# Stubs leave parameters, labels and helpers unused; every stage build (the
# solution's included, so both are built alike) tolerates that, nothing else.
LAB_CFLAGS = ("-Wno-unused-parameter -Wno-unused-variable -Wno-unused-but-set-variable "
              "-Wno-unused-label -Wno-unused-function -Wno-unused-const-variable")


class Stage:
    def __init__(self, root, lab, variant="student", labs_root=None, out=None):
        if variant not in VARIANTS:
            raise ValueError(f"unknown stage variant {variant}")
        self.root, self.lab, self.variant = root, lab, variant
        self.labs_root = labs_root or root          # a submission's checkout, for batch grading
        suffix = "" if variant == "student" else f"-{variant}"
        self.dir = os.path.abspath(out or os.path.join(root, "build", f"lab-{lab:02d}{suffix}"))
        self.tree = os.path.join(self.dir, "solution")
        self.vmm = os.path.join(self.dir, "vmm")
        self.host_image = os.path.join(self.dir, "host", "kvmlabs.img")
        self.log = os.path.join(self.dir, "build.log")

    def overlay_labs(self):
        if self.variant == "solution":
            return []
        if self.variant == "student":
            return [self.lab]
        return list(range(1, self.lab + 1))

    def prepare(self):
        """Copy solution/ and lay the lab files over it. Returns [(lab, relpath, source)]."""
        src = os.path.join(self.root, "solution")
        if os.path.exists(self.tree):
            shutil.rmtree(self.tree)
        shutil.copytree(src, self.tree)
        owned = regions.lab_files(src)
        taken = []
        for lab in self.overlay_labs():
            labdir = labs.lab_dir(self.labs_root, lab)
            for rel in owned.get(lab, []):
                path = os.path.join(labdir, rel) if labdir else None
                if not path or not os.path.exists(path):
                    raise FileNotFoundError(f"lab {lab:02d}: {rel} is missing from "
                                            f"{os.path.relpath(labdir or self.labs_root, self.root)}")
                shutil.copyfile(path, os.path.join(self.tree, rel))
                taken.append((lab, rel, path))
        return taken

    def targets(self):
        return ["vmm", "host"] if labs.PLATFORM[self.lab] != "linux-kvm" else ["vmm"]

    def build(self, targets=None):
        """Build in the stage tree; returns (ok, log text)."""
        self.prepare()
        cmd = ["make", "-s", f"-j{os.cpu_count() or 2}", "-C", self.tree, f"O={self.dir}", f"STAGE={self.lab}",
               f"LAB_CFLAGS={LAB_CFLAGS}"] + (targets or self.targets())
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with open(self.log, "w") as f:
            f.write(p.stdout)
        return p.returncode == 0, p.stdout
