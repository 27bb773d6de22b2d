/* SPDX-License-Identifier: MIT */
/* Lab 09's unit test suites, run by lab09_main.c. */
#ifndef LAB09_TESTS_H
#define LAB09_TESTS_H

#include <check.h>

Suite *virtqueue_suite(void);
Suite *device_suite(void);

#endif
