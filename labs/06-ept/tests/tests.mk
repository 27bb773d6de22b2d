# Lab 06 unit tests: make test-lab LAB=06 (or grader/unittest.mk directly).
# The exit qualification, the EPTP and the EPT entries are pure logic
# (vmx_decode.c, vmx_caps.c, spte.c); the TDP MMU (mmu.c) is built hosted
# against grader/unittest/fake_mmu_host.c, which also plays the processor
# walking the EPT tables.
LAB_TEST_SRCS  := lab06_main.c test_vmx_ept.c test_spte.c test_tdp.c
LAB_TEST_UNITS := kvm/vmx/vmx_decode.c kvm/vmx/vmx_caps.c kvm/mmu/spte.c kvm/mmu/paging.c kvm/mmu/pte_list.c \
	kvm/mmu/mmu.c
LAB_TEST_FAKES := fake_mmu_host.c
