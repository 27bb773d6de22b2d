# kvmlabs: build, grade, test, benchmark and the book. 'make help' lists the targets.
LAB        ?=
SOLUTION   ?=
CUMULATIVE ?=
RELEASE    ?=
VARIANT_FLAGS = $(if $(SOLUTION),--solution) $(if $(CUMULATIVE),--cumulative) $(if $(RELEASE),--release)
GRADE_FLAGS = $(VARIANT_FLAGS) $(if $(JSON),--json $(JSON))
BUILD      := $(CURDIR)/build
# A term release (make dist) sets this: its solution/ has the exercises of the
# labs not released yet as stubs, which build as the grader's stages build them.
SOLUTION_BUILD ?=

.PHONY: help all vmm guests host linux grade run test test-lab doctor bench fuzz book skeletons check-skeletons \
	run-bochs run-qemu qemu-gdb clean dist gradescope

help:
	@echo "make grade LAB=NN [SOLUTION=1|CUMULATIVE=1|RELEASE=1] [JSON=file]   grade a lab (no LAB: every lab)"
	@echo "make run LAB=NN GUEST=name [ARGS='vmm options'] [SOLUTION=1|CUMULATIVE=1]   one guest on your stage NN,"
	@echo "                          built as 'make grade' builds it (GUEST: a guest image or a rubric test)"
	@echo "make test-lab LAB=NN      the lab's unit tests against your files"
	@echo "make doctor               what is installed, which platforms work, what to do"
	@echo "make test                 the kit's whole test suite (what CI runs; grader/selftest list: its steps)"
	@echo "make bench                performance figures, side by side with their peers"
	@echo "make fuzz                 every fuzz target (fuzz/) for FUZZ_SECONDS each (60): executions, coverage, findings"
	@echo "make book                 the book, PDF and HTML, into build/book/"
	@echo "make skeletons            regenerate labs/*/ skeleton files from solution/ (check-skeletons: compare)"
	@echo "make vmm | guests | host  build the solution's VMM, the guest images, the bare-metal host"
	@echo "make linux                the capstone's Linux (build/linux: bzImage, initramfs), cached by its inputs"
	@echo "make run-bochs | run-qemu | qemu-gdb   boot the bare-metal host (GUEST=, ARGS=)"
	@echo "instructors:"
	@echo "make dist [UPTO=N] [OUT=dir]   the kit for students (default build/dist-upto-NN): every lab's handout and"
	@echo "                          skeleton, the reference code of labs < N only (UPTO=0 or none: the term's start,"
	@echo "                          none), the book built from it, a GitHub Classroom workflow; no mutant catalogues,"
	@echo "                          no kit tests, no history; checked for withheld lines (PDF and HTML included)"
	@echo "make gradescope LAB=NN    build/gradescope-labNN.zip: Gradescope's autograder for lab NN (Bochs labs, 04 on)"

all: vmm guests

vmm:
	$(MAKE) -C solution O=$(BUILD)/solution $(SOLUTION_BUILD) vmm

host:
	$(MAKE) -C solution O=$(BUILD)/solution $(SOLUTION_BUILD) host

guests:
	$(MAKE) -C grader/guests O=$(BUILD)/guests

# Debian's linux-source with grader/linux/kvmlabs.config, and a busybox initramfs:
# built once per change of those inputs (~/.cache/kvmlabs/linux), then copied.
linux:
	@grader/linux/build --out $(BUILD)/linux

grade:
	@grader/grade $(if $(LAB),$(LAB),all) $(GRADE_FLAGS)

# One guest on stage NN, as 'make grade' builds and runs it; a failed test prints this command.
run:
	@test -n "$(LAB)" -a -n "$(GUEST)" || { echo "usage: make run LAB=NN GUEST=name [ARGS='vmm options'] [SOLUTION=1|CUMULATIVE=1] [TIMEOUT=S]"; exit 2; }
	@grader/grade run $(LAB) $(GUEST) $(VARIANT_FLAGS) $(if $(TIMEOUT),--timeout $(TIMEOUT)) -- $(ARGS)

test-lab:
	@test -n "$(LAB)" || { echo "usage: make test-lab LAB=NN"; exit 2; }
	@grader/selftest unit $(LAB) $(if $(SOLUTION),--solution)

test:
	@grader/selftest all

# Every mistake of the labs' mutant catalogues against the rubrics (grader/mutants; LAB=NN: one lab).
.PHONY: mutants
mutants:
	@grader/mutants run $(if $(LAB),--lab $(LAB))

doctor:
	@grader/doctor

bench:
	@grader/bench/run

# Every libFuzzer target in fuzz/ for FUZZ_SECONDS each, then the lines its corpus reaches.
fuzz:
	@fuzz/run $(if $(FUZZ_SECONDS),--seconds $(FUZZ_SECONDS))

book:
	$(MAKE) -C book O=$(BUILD)/book

skeletons:
	@grader/skeleton generate

check-skeletons:
	@grader/skeleton check

run-bochs run-qemu qemu-gdb:
	$(MAKE) -C solution O=$(BUILD)/solution $(SOLUTION_BUILD) $@

# The kit as students get it for a term, and the autograder zips (grader/dist).
dist:
	@grader/dist release --upto $(if $(UPTO),$(UPTO),0) $(if $(OUT),--out $(OUT))

gradescope:
	@test -n "$(LAB)" || { echo "usage: make gradescope LAB=NN"; exit 2; }
	@grader/dist gradescope --lab $(LAB)

clean:
	rm -rf $(BUILD)
