# Lab 07 unit tests: make test-lab LAB=07 (or grader/unittest.mk directly).
# The emulator (kvm/emulate.c) reaches the vCPU only through struct
# x86_emulate_ops, so it is built hosted as it is and run over the fake
# vCPU of emu_fake.c, which logs every access in the order it is made.
# grader/unittest/emulator/diff.c compares the same emulator with the host
# CPU over random operands.
LAB_TEST_SRCS  := lab07_main.c emu_fake.c test_decode.c test_flags.c test_exec.c test_string.c
LAB_TEST_UNITS := kvm/emulate.c
LAB_TEST_FAKES :=
