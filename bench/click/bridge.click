// The interfaces suite's bridge case for Click's userlevel driver: frames read from $IN with a
// Linux packet socket are queued and written to $OUT, one direction, like the engine's
// FromDevice -> ToDevice. The suite runs: click IN=<ingress veth> OUT=<egress veth> bridge.click
define($IN veth0, $OUT veth1);

FromDevice($IN, METHOD LINUX, PROMISC true, SNIFFER true, BURST 64)
  -> Queue(1024)
  -> ToDevice($OUT, METHOD LINUX, BURST 64);
