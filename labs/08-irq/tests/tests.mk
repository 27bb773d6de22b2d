# Lab 08 unit tests: make test-lab LAB=08 (or grader/unittest.mk directly).
# The interrupt controllers are pure state machines around a clock: the PIC
# pair (i8259.c), the PIT (i8254.c), the IOAPIC (ioapic.c), the LAPIC
# (lapic.c) and the routing between them (irq.c), built hosted against
# grader/unittest/fake_irq_host.c (a clock the test sets, kicks recorded).
LAB_TEST_SRCS  := lab08_main.c test_pic.c test_pit.c test_ioapic.c test_lapic.c test_irq.c
LAB_TEST_UNITS := kvm/i8259.c kvm/i8254.c kvm/ioapic.c kvm/lapic.c kvm/irq.c
LAB_TEST_FAKES := fake_irq_host.c
