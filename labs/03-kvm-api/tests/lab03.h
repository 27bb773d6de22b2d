/* SPDX-License-Identifier: MIT */
#ifndef LAB03_TESTS_H
#define LAB03_TESTS_H

#include <check.h>

Suite *lab03_bus_memory_suite(void);
Suite *lab03_cpu_irq_suite(void);

#endif
