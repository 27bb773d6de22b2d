# Lab 09 unit tests: make test-lab LAB=09 (or grader/unittest.mk directly).
# The split virtqueue (vmm/virtio/virtqueue.c) reaches guest memory only
# through its struct virtq_mem: it runs over synthetic rings in a heap
# "guest memory" whose map refuses what is outside (test_virtqueue.c). The
# transport and the devices run in the whole VMM on the fake KVM and host,
# driven through the MMIO bus as a guest's driver drives them (test_device.c).
LAB_TEST_SRCS  := lab09_main.c test_virtqueue.c test_device.c
LAB_TEST_UNITS := $(VMM_SRCS)
LAB_TEST_FAKES := fake_kvm.c fake_host.c ut_vmm.c
