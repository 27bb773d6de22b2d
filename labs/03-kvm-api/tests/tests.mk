# Lab 03 unit tests: make test-lab LAB=03 (or grader/unittest.mk directly).
LAB_TEST_SRCS  := lab03_test.c lab03_bus_memory.c lab03_cpu_irq.c
LAB_TEST_UNITS := $(VMM_SRCS)
LAB_TEST_FAKES := fake_kvm.c fake_host.c ut_vmm.c
