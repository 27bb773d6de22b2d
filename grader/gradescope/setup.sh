#!/bin/sh
# Gradescope runs this once, as root, when it builds the autograder's image for
# kvmlabs lab @LAB@ (made by 'make gradescope LAB=@LAB@'). It installs what
# grading needs (grader/packages.txt without the book's packages) and builds
# the guest images and the reference VMM once, so each submission's run only
# builds its own stage.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends @PACKAGES@
make -C "$here/kit" guests vmm
