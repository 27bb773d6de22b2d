# Lab 01 unit tests: make test-lab LAB=01 (or grader/unittest.mk directly).
LAB_TEST_SRCS  := lab01_test.c
LAB_TEST_UNITS := $(VMM_SRCS)
LAB_TEST_FAKES := fake_kvm.c fake_host.c ut_vmm.c
