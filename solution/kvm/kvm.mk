# minikvm. Paths are relative to solution/.
# KVM_SRCS are compiled into the bare-metal host (host/host.mk); KVM_HOSTED_SRCS
# are the pure-logic files that also build hosted, for the lab 04 unit tests
# (labs/04-vmx/tests/tests.mk lists the ones it tests).
KVM_HOSTED_SRCS := kvm/vmx_caps.c kvm/vmx_decode.c kvm/vmx_names.c kvm/vmx_entry_check.c
KVM_SRCS := kvm/kvm_main.c kvm/x86.c kvm/mmu.c kvm/vmx.c kvm/vmx_asm.S $(KVM_HOSTED_SRCS)

# A stage build of lab 04 compiles the skeleton's stubs, which leave
# parameters and helpers unused: take the grader's LAB_CFLAGS for them.
KVM_BAREMETAL_CFLAGS := $(LAB_CFLAGS)
