# tests/container/build.mk - `make container-check` (included by the top
# Makefile): the README's two commands (`make demo`, `make deps check`) in
# fresh mmdebstrap roots of each release in CONTAINER_RELEASES, cloned
# under /root, run under chroot without CAP_SYS_ADMIN
# (tests/container/run). CI runs it for bookworm; `make container-check
# CONTAINER_RELEASES="bookworm trixie" CONTAINER_DEB=1` is the whole
# matrix, with the packages built inside each release and their lifecycle
# test. Needs root, mmdebstrap, the Debian mirror; ~15 min a release.

CONTAINER_RELEASES ?= bookworm
CONTAINER_DEB      ?= 0

.PHONY: container-check
container-check:
	tests/container/run $(if $(filter 1,$(CONTAINER_DEB)),--deb) $(CONTAINER_RELEASES)
