#!/usr/bin/env bash
# Installs the Debian tools the tests use as independent oracles and peers: tcpdump (reads
# our pcap files, judges filter expressions; netbase gives it /etc/services for port names), ping and ethtool (namespace lab tests: ping
# through the engine, offloads off on lab links), traceroute (the router lab test), iperf3 (TCP through LinkEmulator's bandwidth limit), keepalived (the VRRP peer of
# test/vrrp-lab.test.ts; its service is not started: the test runs it in a namespace), chromium (the dashboard test, headless), graphviz (the dashboard's graph layout), udhcpc (the DHCP lab test). Runs before `npm test`; installs only when running
# as root with apt-get available, otherwise the tests that need a missing tool skip and say so.
set -u
need=()
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v ethtool >/dev/null 2>&1 || need+=(ethtool)
command -v traceroute >/dev/null 2>&1 || need+=(traceroute)
command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
command -v keepalived >/dev/null 2>&1 || need+=(keepalived)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the dashboard test drives it headless over the DevTools protocol
command -v dot >/dev/null 2>&1 || need+=(graphviz)  # the dashboard lays routers' graphs out with dot
command -v udhcpc >/dev/null 2>&1 || need+=(udhcpc)  # a DHCP client for the DHCPServer lab test (busybox's)
[ -r /etc/services ] || need+=(netbase)  # the services table tcpdump and the filters read port names from
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-tools: ${need[*]} missing and cannot be installed here (not root or no apt-get); tests that need them will skip" >&2
  exit 0
fi
echo "ensure-test-tools: installing ${need[*]} (Debian packages) for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 || echo "ensure-test-tools: could not install ${need[*]}; tests that need them will skip" >&2
exit 0
