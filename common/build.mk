# common/build.mk - the three libraries of shared code, one per folder, so
# the folder says where its code ends up:
#
#   common/core/    -> $(COMMON_LIB)  libc + liblmdb only. Linked into the
#                      NSS module, i.e. into every process on the host, and
#                      into everything else: name and address rules, record
#                      codec, config parser, the read-only snapshot reader
#                      and its lookup rules (snapread.h).
#   common/publish/ -> $(PUBLISH_LIB) the writer side (private master LMDB
#                      environment, snapshot publishing): zkcached, the test
#                      and benchmark publishers. Never in the module.
#   common/zk/      -> $(ZK_LIB)      ZooKeeper-side helpers (connect-string
#                      resolution, auth file, paths, log routing, the ACL
#                      of created nodes) and the status file: zkcached and
#                      the tools; needs libzookeeper_mt and libnettle
#                      (SHA-1, base64 of ACL digests). Never in the module.

COMMON_SRC := $(wildcard common/core/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
COMMON_LIB := $(BUILD)/libzkhcore.a

PUBLISH_SRC := $(wildcard common/publish/*.c)
PUBLISH_OBJ := $(PUBLISH_SRC:%.c=$(BUILD)/obj/%.o)
PUBLISH_LIB := $(BUILD)/libzkhpublish.a

ZKLIB_SRC := $(wildcard common/zk/*.c)
ZKLIB_OBJ := $(ZKLIB_SRC:%.c=$(BUILD)/obj/%.o)
ZK_LIB    := $(BUILD)/libzkhzk.a

$(COMMON_LIB): $(COMMON_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
$(PUBLISH_LIB): $(PUBLISH_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
$(ZK_LIB): $(ZKLIB_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

ALL_TARGETS += $(COMMON_LIB) $(PUBLISH_LIB) $(ZK_LIB)
