// The interfaces suite's router case for Click's userlevel driver, the same path as the
// engine's: strip the Ethernet header, check the IPv4 header, look the destination up
// (198.19.0.0/24 is the sink's network), decrement the TTL, put a new Ethernet header on
// (egress veth's MAC -> sink's MAC) and send. The suite runs:
//   click IN=<ingress veth> OUT=<egress veth> SRCMAC=<egress MAC> DSTMAC=<sink MAC> router.click
define($IN veth0, $OUT veth1, $SRCMAC 02:00:00:00:00:01, $DSTMAC 02:00:00:00:00:02);

rt :: StaticIPLookup(198.19.0.0/24 0);

FromDevice($IN, METHOD LINUX, PROMISC true, SNIFFER true, BURST 64)
  -> Strip(14)
  -> CheckIPHeader
  -> rt;

rt[0]
  -> ttl :: DecIPTTL
  -> EtherEncap(0x0800, $SRCMAC, $DSTMAC)
  -> Queue(1024)
  -> ToDevice($OUT, METHOD LINUX, BURST 64);

ttl[1] -> Discard;
