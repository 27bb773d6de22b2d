# Lab 02 unit tests: make test-lab LAB=02 (or grader/unittest.mk directly).
LAB_TEST_SRCS  := lab02_test.c
LAB_TEST_UNITS := $(VMM_SRCS)
LAB_TEST_FAKES := fake_kvm.c fake_host.c ut_vmm.c
