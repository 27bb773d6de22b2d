# Lab 04 unit tests: make test-lab LAB=04 (or grader/unittest.mk directly).
# The units are the pure-logic VMX files of minikvm (solution/kvm/kvm.mk,
# KVM_HOSTED_SRCS), which build hosted.
LAB_TEST_SRCS  := lab04_main.c test_vmx_caps.c test_vmx_decode.c test_vmx_entry_check.c
LAB_TEST_UNITS := kvm/vmx/vmx_caps.c kvm/vmx/vmx_decode.c kvm/vmx/vmx_names.c kvm/vmx/vmx_entry_check.c
LAB_TEST_FAKES :=
