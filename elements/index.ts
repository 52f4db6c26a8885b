// Every built-in element's descriptor (and typed constructor). Importing this module
// registers them all. One line per element, grouped as the folders are.
export { Classifier } from './standard/Classifier.js';
export { Counter } from './standard/Counter.js';
export { Discard } from './standard/Discard.js';
export { FlowSource } from './standard/FlowSource.js';
export { HashSwitch } from './standard/HashSwitch.js';
export { InfiniteSource } from './standard/InfiniteSource.js';
export { LatencyMeter } from './standard/LatencyMeter.js';
export { Null } from './standard/Null.js';
export { Paint } from './standard/Paint.js';
export { PaintSwitch } from './standard/PaintSwitch.js';
export { Print } from './standard/Print.js';
export { RoundRobinSwitch } from './standard/RoundRobinSwitch.js';
export { SetTimestamp } from './standard/SetTimestamp.js';
export { Strip } from './standard/Strip.js';
export { Switch } from './standard/Switch.js';
export { Tee } from './standard/Tee.js';
export { TimestampStamp } from './standard/TimestampStamp.js';
export { Unstrip } from './standard/Unstrip.js';
export { CheckLength } from './standard/CheckLength.js';
export { Idle } from './standard/Idle.js';
export { Truncate } from './standard/Truncate.js';
export { PaintTee } from './standard/PaintTee.js';
export { StripToNetworkHeader } from './standard/StripToNetworkHeader.js';
export { Meter } from './standard/Meter.js';
export { BandwidthMeter } from './standard/BandwidthMeter.js';
export { SetTableID } from './standard/SetTableID.js';

export { Queue } from './queue/Queue.js';
export { Unqueue } from './queue/Unqueue.js';
export { PrioSched } from './queue/PrioSched.js';
export { RatedUnqueue } from './queue/RatedUnqueue.js';
export { Shaper } from './queue/Shaper.js';
export { BandwidthShaper } from './queue/BandwidthShaper.js';
export { BandwidthRatedUnqueue } from './queue/BandwidthRatedUnqueue.js';
export { RatedSplitter } from './queue/RatedSplitter.js';
export { BandwidthRatedSplitter } from './queue/BandwidthRatedSplitter.js';
export { RoundRobinSched } from './queue/RoundRobinSched.js';
export { Policer } from './queue/Policer.js';
export { HTBSched } from './queue/HTBSched.js';
export { RED } from './queue/RED.js';
export { CoDel } from './queue/CoDel.js';
export { FQCoDel } from './queue/FQCoDel.js';
export { DRRSched } from './queue/DRRSched.js';
export { WFQSched } from './queue/WFQSched.js';

// ip
export { IPLookup } from './ip/IPLookup.js';
export { CheckIPHeader } from './ip/CheckIPHeader.js';
export { DecIPTTL } from './ip/DecIPTTL.js';
export { GetIPAddress } from './ip/GetIPAddress.js';
export { ICMPError } from './ip/ICMPError.js';
export { ICMPPingResponder } from './ip/ICMPPingResponder.js';
export { IPFragmenter } from './ip/IPFragmenter.js';
export { IPReassembler } from './ip/IPReassembler.js';
export { MarkIPHeader } from './ip/MarkIPHeader.js';
export { SetIPAddress } from './ip/SetIPAddress.js';
export { SetIPChecksum } from './ip/SetIPChecksum.js';
export { SetIPDSCP } from './ip/SetIPDSCP.js';
export { SetTCPChecksum } from './ip/SetTCPChecksum.js';
export { SetUDPChecksum } from './ip/SetUDPChecksum.js';
export { IPEncap } from './ip/IPEncap.js';
export { UDPIPEncap } from './ip/UDPIPEncap.js';
export { GREEncap } from './ip/GREEncap.js';
export { GREDecap } from './ip/GREDecap.js';
export { VXLANEncap } from './ip/VXLANEncap.js';
export { VXLANDecap } from './ip/VXLANDecap.js';
export { IPClassifier } from './ip/IPClassifier.js';
export { IPFilter } from './ip/IPFilter.js';
export { IPRewriter } from './ip/IPRewriter.js';
export { DHCPServer } from './ip/DHCPServer.js';
export { IPGWOptions } from './ip/IPGWOptions.js';
export { FixIPSrc } from './ip/FixIPSrc.js';
export { CheckICMPHeader } from './ip/CheckICMPHeader.js';
export { VRRP } from './ip/VRRP.js';

// ip6
export { LookupIP6Route } from './ip6/LookupIP6Route.js';
export { CheckIP6Header } from './ip6/CheckIP6Header.js';
export { DecIP6HLIM } from './ip6/DecIP6HLIM.js';
export { ICMP6PingResponder } from './ip6/ICMP6PingResponder.js';
export { ICMP6Error } from './ip6/ICMP6Error.js';
export { IP6NDAdvertiser } from './ip6/IP6NDAdvertiser.js';
export { IP6NDSolicitor } from './ip6/IP6NDSolicitor.js';

// io
export { FromDevice } from './io/FromDevice.js';
export { FromPort } from './io/FromPort.js';
export { PortDemux } from './io/PortDemux.js';
export { ToPort } from './io/ToPort.js';
export { FromPcap } from './io/FromPcap.js';
export { Tap } from './io/Tap.js';
export { ToDevice } from './io/ToDevice.js';
export { ToPcap } from './io/ToPcap.js';

// ethernet
export { EtherEncap } from './ethernet/EtherEncap.js';
export { EtherSwitch } from './ethernet/EtherSwitch.js';
export { ARPResponder } from './ethernet/ARPResponder.js';
export { ARPQuerier } from './ethernet/ARPQuerier.js';
export { VLANEncap } from './ethernet/VLANEncap.js';
export { VLANDecap } from './ethernet/VLANDecap.js';
export { EtherRewrite } from './ethernet/EtherRewrite.js';
export { EtherMirror } from './ethernet/EtherMirror.js';
export { HostEtherFilter } from './ethernet/HostEtherFilter.js';
export { DropBroadcasts } from './ethernet/DropBroadcasts.js';
export { SetVLANAnno } from './ethernet/SetVLANAnno.js';
export { EtherVLANEncap } from './ethernet/EtherVLANEncap.js';
export { VLANClassifier } from './ethernet/VLANClassifier.js';
export { VLANSwitch } from './ethernet/VLANSwitch.js';

// link
export { LinkEmulator } from './link/LinkEmulator.js';
