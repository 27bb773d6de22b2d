# Lab 05 unit tests: make test-lab LAB=05 (or grader/unittest.mk directly).
# The walker and the spte lists are pure logic; the shadow MMU (mmu.c, with
# the spte encodings of spte.c it calls) is built hosted against
# grader/unittest/fake_mmu_host.c, which stands in for the host's page
# allocator and the parts of kvm_main.c, x86.c and cpuid.c it calls.
LAB_TEST_SRCS  := lab05_main.c test_paging.c test_pte_list.c test_mmu.c
LAB_TEST_UNITS := kvm/mmu/paging.c kvm/mmu/pte_list.c kvm/mmu/spte.c kvm/mmu/mmu.c
LAB_TEST_FAKES := fake_mmu_host.c
