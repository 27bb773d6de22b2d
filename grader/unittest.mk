# Builds and runs one lab's Check unit tests against a stage tree, so that the
# student's files are what gets tested.
#   make -f grader/unittest.mk TREE=<stage tree>/solution LABDIR=labs/NN-name O=<dir>
# labs/NN-name/tests/tests.mk defines:
#   LAB_TEST_SRCS   the test files (relative to the lab's tests/)
#   LAB_TEST_UNITS  the code under test (relative to TREE); VMM labs use $(VMM_SRCS)
#   LAB_TEST_FAKES  test doubles from grader/unittest/ (e.g. fake_kvm.c fake_host.c)
TREE   ?= solution
LABDIR ?=
O      ?= build/unittest
STAGE  ?= 9
CC     ?= gcc
GRADER := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

include $(TREE)/vmm/vmm.mk
include $(LABDIR)/tests/tests.mk
.DEFAULT_GOAL := run

CHECK_FLAGS := $(shell pkg-config --cflags --libs check)
UT_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wno-unused-function \
	-I$(TREE)/include -I$(TREE) -I$(GRADER)/unittest -DKVMLABS_STAGE=$(STAGE) -DKVMLABS_UNIT_TEST \
	-fsanitize=address,undefined -fno-omit-frame-pointer $(LAB_CFLAGS)

.PHONY: run
run: $(O)/unittest
	$(O)/unittest

$(O)/unittest: $(addprefix $(LABDIR)/tests/,$(LAB_TEST_SRCS)) $(addprefix $(TREE)/,$(LAB_TEST_UNITS)) \
		$(addprefix $(GRADER)/unittest/,$(LAB_TEST_FAKES))
	@mkdir -p $(O)
	$(CC) $(UT_CFLAGS) -o $@ $^ $(CHECK_FLAGS) -lpthread
