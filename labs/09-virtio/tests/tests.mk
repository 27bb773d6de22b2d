# Lab 09 unit tests: make test-lab LAB=09 (or grader/unittest.mk directly).
# The split virtqueue (vmm/virtio/virtqueue.c) reaches guest memory only
# through its struct virtq_mem, so it is built hosted as it is and run over
# synthetic rings in a heap "guest memory" whose map refuses what is outside.
LAB_TEST_SRCS  := lab09_main.c test_virtqueue.c
LAB_TEST_UNITS := vmm/virtio/virtqueue.c
LAB_TEST_FAKES :=
