# The VMM. VMM_SRCS is the portable part, also linked into the bare-metal host;
# VMM_LINUX_SRCS are the two seams on Linux. Paths are relative to solution/.
VMM_SRCS := vmm/main.c vmm/vmm.c vmm/util.c vmm/vm.c vmm/run.c vmm/modes.c vmm/bus.c vmm/memory.c \
	vmm/cpuid.c vmm/smp.c vmm/irq.c vmm/dirty.c vmm/loader.c \
	vmm/devices/devices.c vmm/devices/debug_ports.c vmm/devices/uart8250.c vmm/devices/testdev.c \
	vmm/devices/fw_cfg.c vmm/devices/pc_testdev.c \
	vmm/virtio/virtqueue.c vmm/virtio/core.c vmm/virtio/mmio.c vmm/virtio/console.c vmm/virtio/blk.c
VMM_LINUX_SRCS := vmm/linux/kvm_linux.c vmm/linux/host_linux.c

# LAB_CFLAGS comes from the grader's stage builds: a skeleton's stubs leave
# parameters and helpers unused, which must not stop a student's build.
VMM_WARN   := -Wall -Wextra -Werror -Wno-unused-function
VMM_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -O2 -g $(VMM_WARN) -Iinclude -DKVMLABS_STAGE=$(STAGE) $(LAB_CFLAGS)
# The same VMM sources linked into the bare-metal host (host/host.mk) take them too.
VMM_BAREMETAL_CFLAGS := $(LAB_CFLAGS)
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
# Sanitizer builds end a report with VMM_EXIT_SANITIZER, never with 1 (a pass).
VMM_SAN_SRCS := vmm/linux/sanitizer.c

vmm: $(O)/vmm
vmm-san: $(O)/vmm-san
vmm-tsan: $(O)/vmm-tsan

$(O)/vmm: $(VMM_SRCS) $(VMM_LINUX_SRCS) $(wildcard include/kvmlabs/*.h vmm/*.h vmm/devices/*.h vmm/virtio/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(VMM_CFLAGS) -o $@ $(VMM_SRCS) $(VMM_LINUX_SRCS) -lpthread

$(O)/vmm-san: $(VMM_SRCS) $(VMM_LINUX_SRCS) $(VMM_SAN_SRCS) $(wildcard include/kvmlabs/*.h vmm/*.h vmm/devices/*.h vmm/virtio/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(VMM_CFLAGS) -O1 $(SAN_FLAGS) -o $@ $(VMM_SRCS) $(VMM_LINUX_SRCS) $(VMM_SAN_SRCS) -lpthread

$(O)/vmm-tsan: $(VMM_SRCS) $(VMM_LINUX_SRCS) $(VMM_SAN_SRCS) $(wildcard include/kvmlabs/*.h vmm/*.h vmm/devices/*.h vmm/virtio/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(VMM_CFLAGS) -O1 $(TSAN_FLAGS) -o $@ $(VMM_SRCS) $(VMM_LINUX_SRCS) $(VMM_SAN_SRCS) -lpthread
