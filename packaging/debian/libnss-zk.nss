# dh_installnss (dh-nss): add "zk" to the hosts line right after "files"
# when libnss-zk is installed (not on upgrades, so an admin who took it out
# keeps it out), and take it out again on remove and purge. No
# [NOTFOUND=return]: a name zk does not know must go on to dns.
hosts after=files zk
