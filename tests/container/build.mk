# tests/container/build.mk - `make container-check` (included by the top
# Makefile): the README's two commands (`make demo`, `make deps check`) in
# fresh mmdebstrap roots of each release in CONTAINER_RELEASES, cloned
# under /root, run under chroot without CAP_SYS_ADMIN
# (tests/container/run). CONTAINER_DEB=1 also builds and lints the
# packages inside each release and runs their lifecycle test on it. CI runs
# bookworm, then trixie with CONTAINER_DEB=1. Needs root, mmdebstrap and
# the Debian mirror; about 5 min for bookworm, 8 for trixie with its debs.

CONTAINER_RELEASES ?= bookworm
CONTAINER_DEB      ?= 0

.PHONY: container-check
container-check:
	tests/container/run $(if $(filter 1,$(CONTAINER_DEB)),--deb) $(CONTAINER_RELEASES)
