/* SPDX-License-Identifier: MIT */
#include "lab07_tests.h"
Suite *string_suite(void)
{
	return suite_create("string");
}
