# examples/cluster: `make cluster-demo`, a Hadoop-style cluster on one
# machine (five network-namespace hosts on a private bridge, a 3-server
# ZooKeeper ensemble, boot order, Java name checks, membership). Root only;
# touches nothing outside its own namespaces and temp dir.
.PHONY: cluster-demo
cluster-demo: deps build-all
	ZKH_BUILD=$(abspath $(BUILD)) /usr/bin/python3 examples/cluster/demo.py
