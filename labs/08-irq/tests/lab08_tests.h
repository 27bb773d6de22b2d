/* SPDX-License-Identifier: MIT */
/* Lab 08's unit test suites (one per device), run by lab08_main.c. */
#ifndef LAB08_TESTS_H
#define LAB08_TESTS_H

#include <check.h>

Suite *pic_suite(void);
Suite *pit_suite(void);
Suite *ioapic_suite(void);
Suite *lapic_suite(void);
Suite *irq_suite(void);

#endif
