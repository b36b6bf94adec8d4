# tests/scale/build.mk - `make scale`, the fleet simulator (not part of
# `make check`; docs/scale.md explains it and records its figures):
# a 3-server ZooKeeper ensemble on loopback, real zkcached processes of
# the old design (every daemon mirrors <root>/hosts) and of the new one
# (elected indexers + consumers of the fleet index) side by side, and
# $(BUILD)/tests/scale/fleetsim, one process multiplexing many simulated
# consumer sessions (libzookeeper_st) for propagation at fleet size.
#
#   make scale                    defaults (a short run for a shared box)
#   make scale SCALE_ARGS='--records 10000 --daemons 100 --sessions 1000'

SCALE_ARGS ?=
FLEETSIM   := $(BUILD)/tests/scale/fleetsim
ZK_ST_LIB  := $(firstword $(wildcard /usr/lib/$(MULTIARCH)/libzookeeper_st.so.2 /usr/lib/libzookeeper_st.so.2))

$(FLEETSIM): tests/scale/fleetsim.c $(COMMON_LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@test -n "$(ZK_ST_LIB)" || { echo "libzookeeper_st.so.2 missing: apt-get install libzookeeper-st2"; exit 1; }
	$(CC) $(ALL_CFLAGS) -o $@ $< $(COMMON_LIB) $(ALL_LDFLAGS) $(ZK_ST_LIB)

.PHONY: scale
scale: build-all $(FLEETSIM)
	ZKH_BUILD=$(abspath $(BUILD)) ZKH_SRC=$(CURDIR) PYTHONPATH=$(CURDIR)/tests/lib \
		/usr/bin/python3 tests/scale/fleet.py $(SCALE_ARGS)
