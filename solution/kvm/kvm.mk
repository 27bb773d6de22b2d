# minikvm. Paths are relative to solution/; the layout follows Linux's
# virt/kvm and arch/x86/kvm (README.md has the table).
# KVM_SRCS are compiled into the bare-metal host (host/host.mk); KVM_HOSTED_SRCS
# are the pure-logic VMX files that also build hosted, for the lab 04 unit
# tests (labs/04-vmx/tests/tests.mk lists the ones it tests).
KVM_HOSTED_SRCS := kvm/vmx/vmx_caps.c kvm/vmx/vmx_decode.c kvm/vmx/vmx_names.c kvm/vmx/vmx_entry_check.c
# The lab 05 files that also build hosted, for its unit tests.
KVM_MMU_HOSTED_SRCS := kvm/mmu/paging.c kvm/mmu/pte_list.c kvm/mmu/spte.c
# Lab 08: the in-kernel irqchip and PIT.
KVM_IRQCHIP_SRCS := kvm/irq.c kvm/i8259.c kvm/i8254.c kvm/ioapic.c kvm/lapic.c
KVM_GENERIC_SRCS := kvm/kvm_main.c kvm/x86.c kvm/cpuid.c kvm/emulate.c $(KVM_IRQCHIP_SRCS) kvm/mmu/mmu.c $(KVM_MMU_HOSTED_SRCS)
KVM_VMX_SRCS := kvm/vmx/vmx.c kvm/vmx/vmenter.S $(KVM_HOSTED_SRCS)
KVM_SRCS := $(KVM_GENERIC_SRCS) $(KVM_VMX_SRCS)

# A stage build of lab 04 compiles the skeleton's stubs, which leave
# parameters and helpers unused: take the grader's LAB_CFLAGS for them.
KVM_BAREMETAL_CFLAGS := $(LAB_CFLAGS)
