# Lab 04 unit tests: make test-lab LAB=04 (or grader/unittest.mk directly).
# The units are the pure-logic minikvm files (solution/kvm/kvm.mk, KVM_HOSTED_SRCS).
LAB_TEST_SRCS  := lab04_main.c test_vmx_caps.c test_vmx_decode.c test_vmx_entry_check.c
LAB_TEST_UNITS := kvm/vmx_caps.c kvm/vmx_decode.c kvm/vmx_names.c kvm/vmx_entry_check.c
LAB_TEST_FAKES :=
