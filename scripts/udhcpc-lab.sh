#!/bin/sh
# udhcpc's event script for lab scenarios (src/lab/scenario.ts): sets the leased address and the
# default route on the interface in the node's namespace, takes them away on deconfig, and writes
# nothing else (Debian's default script would rewrite /etc/resolv.conf, the host's own).
case "$1" in
  bound|renew)
    ip addr replace "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    ;;
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
esac
exit 0
