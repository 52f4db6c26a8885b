// One emulated point-to-point net of a lab scenario (docs/scenarios.md): the lab hosts it as a
// virtual router `link-NET` of its engine, between the two attached interfaces' root ends `a`
// and `b`, with a LinkEmulator per direction (`ab`, `ba`) configured on its own; `pktgraph lab
// modify` writes one handler of one direction, so the other fields and direction stay as they are.
// `ab` and `ba` are LinkEmulator configs as JSON (the scenario's impair.ab / impair.ba).
// TPACKET_V2 receive rings: V3's block timer would add up to a kernel tick (4 ms) to each frame.
import { graph, FromDevice, ToDevice, LinkEmulator } from 'pktgraph';

export default graph({ name: 'scenario-link', params: { a: '', b: '', ab: '{}', ba: '{}' } }, (p) => {
  FromDevice({ device: String(p.a), promisc: true, tpacketVersion: 2 }, 'rxa').to(LinkEmulator(JSON.parse(String(p.ab)), 'ab')).to(ToDevice({ device: String(p.b) }, 'txb'));
  FromDevice({ device: String(p.b), promisc: true, tpacketVersion: 2 }, 'rxb').to(LinkEmulator(JSON.parse(String(p.ba)), 'ba')).to(ToDevice({ device: String(p.a) }, 'txa'));
});
