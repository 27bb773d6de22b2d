# The bare-metal host: boot code, kernel, libc, the VMM (VMM_SRCS from
# vmm/vmm.mk) and minikvm (KVM_SRCS from kvm/kvm.mk) linked into one bootable
# disk image, $(O)/host/kvmlabs.img. Paths are relative to solution/.
# host/README.md explains the boot, the memory layout and the image format.
#
#   make host                   build the image
#   make run-bochs [GUEST=x]    boot it under Bochs and run guest x (default prot-hello.elf)
#   make run-qemu  [GUEST=x]    the same under QEMU with KVM and nested VMX (Intel hosts)
#   make run-qemu-tcg [GUEST=x] the same under QEMU TCG: no VMX, tests the kernel alone
#   make qemu-gdb  [GUEST=x]    QEMU stopped at the reset vector, waiting for gdb
#                               (QEMU_PLATFORM=qemu-tcg where there is no nested VMX)
#   make host-test              boot tests of the host kernel and the runner (Bochs)
# ARGS overrides the whole VMM command line (default "run $(GUEST)"); guests
# come from GUEST_DIR (default ../build/guests).
O     ?= ../build/solution
STAGE ?= 9

# Standalone use (make -f host/host.mk) still sees the other parts' sources.
ifeq ($(origin VMM_SRCS),undefined)
-include vmm/vmm.mk
endif
ifeq ($(origin KVM_SRCS),undefined)
-include kvm/kvm.mk
endif

HOST_O      := $(O)/host
HOST_OBJDIR := $(HOST_O)/obj
HOST_ELF    := $(HOST_O)/kvmlabs.elf
HOST_IMG    := $(HOST_O)/kvmlabs.img

HOST_RUNNER   ?= ../grader/baremetal/run
HOST_TESTER   ?= ../grader/baremetal/test_host
GUEST_DIR     ?= ../build/guests
HOST_TIMEOUT  ?= 120
QEMU_PLATFORM ?= qemu
GUEST         ?= prot-hello.elf
ARGS          ?= run $(GUEST)

HOST_SRCS := host/boot/boot.S host/entry.S host/kmain.c host/console.c host/cpu.c \
	host/memory.c host/clock.c host/archive.c host/host_services.c host/selftest.c \
	host/wait.c host/thread.c host/native_linux.c
HOST_LIBC_SRCS := host/libc/string.c host/libc/stdio.c host/libc/stdlib.c host/libc/malloc.c

# Until the VMM and minikvm exist, stand-ins keep the kernel linkable and testable.
HOST_VMM_SRCS := $(if $(strip $(VMM_SRCS)),$(VMM_SRCS),host/standin_vmm.c)
HOST_KVM_SRCS := $(if $(strip $(KVM_SRCS)),$(KVM_SRCS),host/kvm_absent.c)

HOST_ALL_SRCS := $(HOST_SRCS) $(HOST_LIBC_SRCS) $(HOST_VMM_SRCS) $(HOST_KVM_SRCS)
HOST_OBJS := $(patsubst %,$(HOST_OBJDIR)/%.o,$(HOST_ALL_SRCS))

# Freestanding, and built so that nothing the VMM or minikvm does can clash
# with the guest: no SSE/x87 code in the host (VM exits do not save the
# guest's FPU state, SDM Vol. 3 27.5), no red zone (exceptions push onto the
# kernel stack). Our libc headers come first; <linux/kvm.h> and the other
# kernel UAPI headers still come from the system after them.
HOST_CC_INCLUDE := $(shell $(CC) -print-file-name=include)
HOST_LIBGCC     := $(shell $(CC) -print-libgcc-file-name)
HOST_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -nostdinc -isystem $(HOST_CC_INCLUDE) \
	-Ihost/libc/include -Iinclude \
	-idirafter /usr/include -idirafter /usr/include/x86_64-linux-gnu \
	-fno-pie -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-omit-frame-pointer -fno-strict-aliasing \
	-mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-DKVMLABS_STAGE=$(STAGE) -DKVMLABS_BAREMETAL=1
HOST_ASFLAGS := -g -D__ASSEMBLER__ -Ihost -Iinclude -DKVMLABS_STAGE=$(STAGE) -DKVMLABS_BAREMETAL=1
# The parts' own extra flags (their makefiles may define these).
HOST_VMM_EXTRA := -Wno-unused-function $(VMM_BAREMETAL_CFLAGS)
HOST_KVM_EXTRA := $(KVM_CFLAGS_EXTRA) $(KVM_BAREMETAL_CFLAGS)

.PHONY: host run-bochs run-qemu run-qemu-tcg qemu-gdb host-test host-clean

host: $(HOST_IMG)

$(HOST_OBJDIR)/host/%.c.o: host/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(HOST_OBJDIR)/vmm/%.c.o: vmm/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(HOST_VMM_EXTRA) -MMD -MP -c $< -o $@

$(HOST_OBJDIR)/kvm/%.c.o: kvm/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(HOST_KVM_EXTRA) -MMD -MP -c $< -o $@

$(HOST_OBJDIR)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(HOST_ASFLAGS) $(HOST_KVM_EXTRA) -MMD -MP -c $< -o $@

# STAGE is compiled in: rebuild everything when it changes.
$(HOST_O)/stage: FORCE
	@mkdir -p $(dir $@)
	@echo '$(STAGE) $(HOST_VMM_SRCS) $(HOST_KVM_SRCS)' | cmp -s - $@ || echo '$(STAGE) $(HOST_VMM_SRCS) $(HOST_KVM_SRCS)' > $@
$(HOST_OBJS): $(HOST_O)/stage host/host.mk

$(HOST_ELF): $(HOST_OBJS) host/kernel.ld
	$(LD) -nostdlib -static -z max-page-size=4096 -z noexecstack --no-warn-rwx-segments -T host/kernel.ld -Map=$(HOST_O)/kvmlabs.map \
		-o $@ $(HOST_OBJS) $(HOST_LIBGCC)

# The image is the flat binary: boot sectors, then the kernel, padded to
# whole sectors; the runner appends the guest archive to a copy of it.
$(HOST_IMG): $(HOST_ELF)
	objcopy -O binary $< $@.tmp
	@lba=$$(od -An -t u4 -j 24 -N 4 $@.tmp | tr -d ' '); size=$$(stat -c %s $@.tmp); \
	if [ "$$size" != "$$((lba * 512))" ]; then \
		echo "host.mk: image is $$size bytes but the archive is expected at sector $$lba" >&2; \
		rm -f $@.tmp; exit 1; fi
	mv $@.tmp $@

HOST_RUN = $(HOST_RUNNER) --kernel $(HOST_IMG) --guest-dir $(GUEST_DIR) --timeout $(HOST_TIMEOUT)

run-bochs: $(HOST_IMG)
	$(HOST_RUN) --platform bochs -- $(ARGS)

run-qemu: $(HOST_IMG)
	$(HOST_RUN) --platform qemu -- $(ARGS)

run-qemu-tcg: $(HOST_IMG)
	$(HOST_RUN) --platform qemu-tcg -- $(ARGS)

qemu-gdb: $(HOST_IMG)
	$(HOST_RUN) --platform $(QEMU_PLATFORM) --gdb -- $(ARGS)

host-test: $(HOST_IMG)
	$(HOST_TESTER) --kernel $(HOST_IMG)

host-clean:
	rm -rf $(HOST_O)

.PHONY: FORCE
FORCE:

-include $(HOST_OBJS:.o=.d)
