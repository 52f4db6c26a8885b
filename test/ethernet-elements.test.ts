// The Ethernet elements with crafted frames: FromPcap -> element(s) -> ToPcap, bytes checked
// exactly. VLANEncap's tag bytes (802.1Q and 802.1ad, Q-in-Q) and its headroom limit;
// VLANDecap undoing it; the VLAN annotation round trip (VLANDecap -> VLANEncap with
// fromAnnotation restores the frames, untagged ones untouched); EtherRewrite and EtherMirror;
// HostEtherFilter's routing of own, other, broadcast and multicast frames; DropBroadcasts; short
// frames counted by every element; the agnostic ones in pull position; every buffer returned.
import t from 'tap';
import {
  FromPcap,
  ToPcap,
  Unstrip,
  Queue,
  Unqueue,
  VLANEncap,
  VLANDecap,
  EtherRewrite,
  EtherMirror,
  HostEtherFilter,
  DropBroadcasts,
  Strip,
  graph,
  compile,
  type ElementNode,
} from 'pktgraph';
import { runGraph } from './lib/run.js';
import { pcapFiles, sameBuffers } from './lib/pcapfiles.js';
import { ether, udp4Frame, udp6Frame, mac, ETH_ARP } from './lib/packets.js';

// ---------- helpers ----------

const { input, sink, read } = pcapFiles('ethel');

/** The frame with a tag (TPID, TCI) inserted after its addresses. */
function tag(frame: Buffer, tpid: number, tci: number): Buffer {
  const t4 = Buffer.alloc(4);
  t4.writeUInt16BE(tpid, 0);
  t4.writeUInt16BE(tci, 2);
  return Buffer.concat([frame.subarray(0, 12), t4, frame.subarray(12)]);
}

/** Untagged frames of several kinds and sizes (the smallest a bare 14-byte header). */
function plainFrames(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    if (k === 0) out.push(udp4Frame({ ethSrc: `02:00:00:00:01:${(i & 0xff).toString(16).padStart(2, '0')}`, payload: 'p'.repeat(i % 50) }));
    else if (k === 1) out.push(udp6Frame({ ethDst: '0a:0b:0c:0d:0e:0f', payload: Buffer.alloc(i % 90, i) }));
    else if (k === 2) out.push(ether({ type: ETH_ARP, payload: Buffer.alloc(28, 0xa5), minLength: 60 }));
    else out.push(ether({ type: 0x88b5, payload: '' })); // 14 bytes
  }
  return out;
}

const tci = (pcp: number, dei: number, id: number) => (pcp << 13) | (dei << 12) | id;

// ---------- VLANEncap, VLANDecap ----------

t.test('VLANEncap inserts the tag; VLANDecap removes it; both count short frames', async (t) => {
  const plain = plainFrames(60);
  const short = [Buffer.alloc(13, 1), Buffer.alloc(0)];
  const inFile = input('vlan', [...plain, ...short]);
  const qTagged = plain.map((f) => tag(f, 0x8100, 10));
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(VLANEncap({ vlanId: 10 }, 'enc')).to(sink('enc'));
    FromPcap({ file: inFile }).to(VLANEncap({ vlanId: 4095, pcp: 7, ethertype: 0x88a8 }, 'enc_ad')).to(sink('enc_ad'));
    FromPcap({ file: inFile }).to(VLANEncap({ pcp: 5 })).to(sink('enc_prio'));
    FromPcap({ file: inFile }).to(VLANEncap({ vlanId: 10 })).to(VLANDecap({}, 'dec')).to(sink('roundtrip'));
    FromPcap({ file: inFile }).to(VLANEncap({ vlanId: 10 })).to(VLANEncap({ vlanId: 300, pcp: 2, ethertype: 0x88a8 })).to(sink('qinq'));
    // 128 bytes of headroom to start with: 125 taken leaves 3, one short of 4.
    FromPcap({ file: inFile }).to(Unstrip({ length: 125 })).to(VLANEncap({ vlanId: 1 }, 'tight')).to(sink('tight'));
    FromPcap({ file: inFile }).to(Unstrip({ length: 124 })).to(VLANEncap({ vlanId: 1 }, 'fits')).to(sink('fits'));
  });
  sameBuffers(t, read('enc'), qTagged, '802.1Q tag 0x8100, TCI 10 after the addresses');
  sameBuffers(t, read('enc_ad'), plain.map((f) => tag(f, 0x88a8, 0xefff)), '802.1ad TPID, PCP 7 and VLAN 4095');
  sameBuffers(t, read('enc_prio'), plain.map((f) => tag(f, 0x8100, 5 << 13)), 'no vlanId: a priority tag (VLAN 0)');
  sameBuffers(t, read('roundtrip'), plain, 'VLANEncap then VLANDecap gives the original frames');
  sameBuffers(t, read('qinq'), qTagged.map((f) => tag(f, 0x88a8, tci(2, 0, 300))), 'a second VLANEncap adds an outer tag');
  t.equal(s.elements.enc.drops_short, short.length, 'frames under 14 bytes dropped and counted');
  t.equal(s.elements.enc_ad.drops_short, short.length);
  t.equal(s.elements.dec.drops_short, 0);
  t.equal(read('tight').length, 0);
  t.equal(s.elements.tight.drops_no_headroom, plain.length + short.length, '3 bytes of headroom: dropped and counted (Unstrip made the short frames long enough)');
  t.equal(s.elements.fits.drops_no_headroom, 0, '4 bytes of headroom are enough');
  t.equal(read('fits').length, plain.length + short.length);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('VLANDecap: outer tag into the annotation, 802.1ad opt-in, untagged frames unchanged; the annotation round trip', async (t) => {
  const plain = plainFrames(40);
  const tcis = plain.map((_, i) => tci(i % 8, (i >> 3) & 1, (i * 97) % 4096));
  const q = plain.map((f, i) => tag(f, 0x8100, tcis[i]));
  const inner = plain.map((f, i) => tag(f, 0x8100, tcis[i]));
  const ad = inner.map((f, i) => tag(f, 0x88a8, tci(3, 0, 100 + i)));
  const adOnly = plain.map((f, i) => tag(f, 0x88a8, tcis[i]));
  // Mixed: tagged and untagged frames interleaved.
  const mixed: Buffer[] = [];
  plain.forEach((f, i) => mixed.push(i % 3 === 0 ? f : q[i]));
  const shortTagged = [q[3].subarray(0, 17), q[3].subarray(0, 14)];
  const adShort = adOnly[3].subarray(0, 16); // an 802.1ad tag: not VLANDecap()'s to check
  const shortAny = [Buffer.alloc(13), Buffer.alloc(1)];
  const inMixed = input('dec-mixed', [...mixed, ...shortTagged, adShort, ...shortAny]);
  const inAd = input('dec-ad', ad);
  const inAdOnly = input('dec-adonly', adOnly);
  const s = await runGraph(() => {
    FromPcap({ file: inMixed }).to(VLANDecap({}, 'dec')).to(sink('dec'));
    FromPcap({ file: inMixed }).to(VLANDecap({}, 'dec_rt')).to(VLANEncap({ fromAnnotation: true }, 'enc_rt')).to(sink('anno-rt'));
    // A second VLANDecap sees untagged frames and clears the annotation: nothing to restore.
    FromPcap({ file: inMixed }).to(VLANDecap()).to(VLANDecap()).to(VLANEncap({ fromAnnotation: true })).to(sink('cleared'));
    // Without any annotation VLANEncap(fromAnnotation) passes frames unchanged.
    FromPcap({ file: inMixed }).to(VLANEncap({ fromAnnotation: true }, 'enc_none')).to(sink('noanno'));
    FromPcap({ file: inAd }).to(VLANDecap({ ethertype: 0x88a8 }, 'dec_ad')).to(sink('ad-outer'));
    FromPcap({ file: inAd }).to(VLANDecap({ ethertype: 0x88a8 })).to(VLANDecap()).to(sink('ad-both'));
    FromPcap({ file: inAd }).to(VLANDecap({ ethertype: 0x88a8 })).to(VLANEncap({ fromAnnotation: true, ethertype: 0x88a8 })).to(sink('ad-rt'));
    // By default (0x8100 only, as in Click) 802.1ad frames pass unchanged, with no annotation.
    FromPcap({ file: inAd }).to(VLANDecap({}, 'dec_ad_default')).to(VLANEncap({ fromAnnotation: true }, 'enc_ad_default')).to(sink('ad-default'));
    FromPcap({ file: inAdOnly }).to(VLANDecap({ ethertype: 0x88a8 })).to(sink('adonly'));
    // Only the configured TPID: 802.1Q tags pass a VLANDecap for 0x88a8.
    FromPcap({ file: inMixed }).to(VLANDecap({ ethertype: 0x88a8 }, 'dec_q_as_ad')).to(sink('q-as-ad'));
    // The annotation survives the element taking the tag: once VLANEncap wrote it back it is cleared.
    FromPcap({ file: inAdOnly }).to(VLANDecap({ ethertype: 0x88a8 })).to(VLANEncap({ fromAnnotation: true })).to(VLANEncap({ fromAnnotation: true })).to(sink('once'));
  });
  const mixedPlain = [...plain, adShort]; // every mixed frame untagged; the 802.1ad one passes
  sameBuffers(t, read('dec'), mixedPlain, 'tagged frames lose their tag, untagged ones pass unchanged');
  t.equal(s.elements.dec.drops_short, shortTagged.length + shortAny.length, 'short frames (under 14, or tagged under 18) dropped and counted');
  sameBuffers(t, read('anno-rt'), [...mixed, adShort], 'VLANDecap -> VLANEncap(fromAnnotation) restores every frame, TCI bits and all');
  t.equal(s.elements.enc_rt.drops_short, 0, 'the short frames never reached VLANEncap');
  sameBuffers(t, read('cleared'), mixedPlain, 'an untagged frame clears the annotation');
  sameBuffers(t, read('noanno'), [...mixed, ...shortTagged, adShort], 'no annotation: frames pass unchanged');
  t.equal(s.elements.enc_none.drops_short, shortAny.length);
  sameBuffers(t, read('ad-outer'), inner, '802.1ad: only the outer tag is removed, the inner 802.1Q tag stays');
  sameBuffers(t, read('ad-both'), plain, 'a second VLANDecap removes the inner tag');
  sameBuffers(t, read('ad-rt'), ad, 'the service tag comes back with ethertype 0x88a8');
  sameBuffers(t, read('adonly'), plain, 'a lone 0x88a8 tag is removed with ethertype 0x88a8');
  sameBuffers(t, read('ad-default'), ad, 'by default an 802.1ad frame passes unchanged and its annotation is cleared');
  t.equal(s.elements.dec_ad_default.drops_short, 0);
  sameBuffers(t, read('q-as-ad'), [...mixed, ...shortTagged], 'ethertype 0x88a8: 802.1Q frames pass unchanged (short ones too)');
  t.equal(s.elements.dec_q_as_ad.drops_short, 1 + shortAny.length, 'only the short 0x88a8 frame and the runts are dropped');
  sameBuffers(t, read('once'), q, 'the annotation is used once: the second VLANEncap finds none');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

t.test('VLANEncap: the DEI bit; a native VLAN leaves untagged (Click\'s NATIVE_VLAN), from the config or the annotation', async (t) => {
  const plain = plainFrames(24);
  const tcis = plain.map((_, i) => tci(i % 8, i & 1, [5, 7, 0][i % 3]));
  const tagged = plain.map((f, i) => tag(f, 0x8100, tcis[i]));
  const inPlain = input('native-plain', plain);
  const inTagged = input('native-tagged', tagged);
  const s = await runGraph(() => {
    FromPcap({ file: inPlain }).to(VLANEncap({ vlanId: 5, pcp: 6, dei: true }, 'dei')).to(sink('dei'));
    FromPcap({ file: inPlain }).to(VLANEncap({ vlanId: 5, pcp: 6, nativeVlan: 5 }, 'native')).to(sink('native'));
    FromPcap({ file: inPlain }).to(VLANEncap({ vlanId: 5, nativeVlan: 7 })).to(sink('not-native'));
    // Click's default NATIVE_VLAN 0: a priority-tag-only config sends frames untagged.
    FromPcap({ file: inPlain }).to(VLANEncap({ pcp: 3, nativeVlan: 0 })).to(sink('native0'));
    // From the annotation: VLAN 7 is native, leaves untagged, and the annotation is used up.
    FromPcap({ file: inTagged }).to(VLANDecap()).to(VLANEncap({ fromAnnotation: true, nativeVlan: 7 }, 'anno')).to(VLANEncap({ fromAnnotation: true })).to(sink('anno-native'));
  });
  sameBuffers(t, read('dei'), plain.map((f) => tag(f, 0x8100, tci(6, 1, 5))), 'dei sets bit 12 of the TCI');
  sameBuffers(t, read('native'), plain, 'vlanId equal to nativeVlan: frames pass untagged');
  t.equal(s.elements.native.drops_short, 0);
  sameBuffers(t, read('not-native'), plain.map((f) => tag(f, 0x8100, 5)), 'another VLAN is still tagged');
  sameBuffers(t, read('native0'), plain, 'nativeVlan 0 sends VLAN 0 (priority tags) untagged, as Click by default');
  sameBuffers(t, read('anno-native'), tagged.map((f, i) => ((tcis[i] & 0xfff) === 7 ? plain[i] : f)), "the annotation's native VLAN leaves untagged, the others get their tag back, PCP and DEI kept");
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- EtherRewrite, EtherMirror ----------

t.test('EtherRewrite sets both addresses, EtherMirror swaps them; short frames counted', async (t) => {
  const plain = [...plainFrames(30), tag(udp4Frame({ ethSrc: '02:aa:bb:cc:dd:ee', ethDst: '0e:00:00:00:00:09' }), 0x8100, 7)];
  const short = [Buffer.alloc(13, 0xff), Buffer.alloc(5)];
  const inFile = input('rw', [...plain, ...short]);
  const src = '0a:00:00:00:00:01';
  const dst = 'ff:ee:dd:cc:bb:aa';
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(EtherRewrite({ src, dst }, 'rw')).to(sink('rw'));
    FromPcap({ file: inFile }).to(EtherMirror({}, 'mirror')).to(sink('mirror'));
    FromPcap({ file: inFile }).to(EtherMirror()).to(EtherMirror()).to(sink('mirror2'));
  });
  sameBuffers(t, read('rw'), plain.map((f) => Buffer.concat([mac(dst), mac(src), f.subarray(12)])), 'destination then source replaced, the rest unchanged');
  sameBuffers(t, read('mirror'), plain.map((f) => Buffer.concat([f.subarray(6, 12), f.subarray(0, 6), f.subarray(12)])), 'addresses swapped');
  sameBuffers(t, read('mirror2'), plain, 'mirrored twice: the original');
  t.equal(s.elements.rw.drops_short, short.length);
  t.equal(s.elements.mirror.drops_short, short.length);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- HostEtherFilter ----------

t.test('HostEtherFilter routes own, other, broadcast and multicast frames', async (t) => {
  const me = '02:00:00:00:00:aa';
  const other = '02:00:00:00:00:bb';
  const f = {
    toMe: ether({ dst: me, src: other, payload: 'to me' }),
    toOther: ether({ dst: other, src: '02:00:00:00:00:cc', payload: 'to other' }),
    bcast: ether({ dst: 'ff:ff:ff:ff:ff:ff', src: other, payload: 'broadcast' }),
    mcast: ether({ dst: '01:00:5e:00:00:01', src: other, payload: 'multicast' }),
    mcast6: ether({ dst: '33:33:00:00:00:01', src: other, payload: 'ipv6 multicast' }),
    ownToOther: ether({ dst: other, src: me, payload: 'own, to other' }),
    ownToMe: ether({ dst: me, src: me, payload: 'own, to me' }),
    ownBcast: ether({ dst: 'ff:ff:ff:ff:ff:ff', src: me, payload: 'own broadcast' }),
  };
  const frames = [f.toMe, f.toOther, f.bcast, f.mcast, f.mcast6, f.ownToOther, f.ownToMe, f.ownBcast];
  const short = [f.toMe.subarray(0, 13), Buffer.alloc(0)];
  const all: Buffer[] = [];
  for (let r = 0; r < 5; r++) all.push(...frames);
  all.push(...short);
  const inFile = input('hef', all);
  const rep = (xs: Buffer[]) => Array.from({ length: 5 }, () => xs).flat();
  const s = await runGraph(() => {
    const a = FromPcap({ file: inFile }).to(HostEtherFilter({ mac: me }, 'deflt'));
    a.out(0).to(sink('deflt-0'));
    a.out(1).to(sink('deflt-1'));
    const b = FromPcap({ file: inFile }).to(HostEtherFilter({ mac: me, dropOwn: true }, 'own'));
    b.out(0).to(sink('own-0'));
    b.out(1).to(sink('own-1'));
    FromPcap({ file: inFile }).to(HostEtherFilter({ mac: me, dropOwn: true, dropOther: false }, 'ownonly')).to(sink('ownonly'));
    FromPcap({ file: inFile }).to(HostEtherFilter({ mac: me, dropOther: false }, 'none')).to(sink('none'));
    FromPcap({ file: inFile }).to(HostEtherFilter({ mac: me }, 'one')).to(sink('one'));
  });
  // Defaults: dropOther only. Unicast to another host is rejected, whoever sent it.
  const deflt0 = [f.toMe, f.bcast, f.mcast, f.mcast6, f.ownToMe, f.ownBcast];
  const deflt1 = [f.toOther, f.ownToOther];
  sameBuffers(t, read('deflt-0'), rep(deflt0), 'defaults: to us, broadcast, multicast (and our own) on output 0');
  sameBuffers(t, read('deflt-1'), rep(deflt1), 'defaults: unicast for other hosts on output 1, unchanged');
  t.same([s.elements.deflt.own, s.elements.deflt.other, s.elements.deflt.drops_short], [0, 10, 2]);
  // dropOwn too: our own frames rejected (counted as own, even when also for another host).
  sameBuffers(t, read('own-0'), rep([f.toMe, f.bcast, f.mcast, f.mcast6]), 'dropOwn: our own frames leave output 0');
  sameBuffers(t, read('own-1'), rep([f.toOther, f.ownToOther, f.ownToMe, f.ownBcast]), 'and go to output 1 in arrival order');
  t.same([s.elements.own.own, s.elements.own.other, s.elements.own.drops_short], [15, 5, 2]);
  sameBuffers(t, read('ownonly'), rep([f.toMe, f.toOther, f.bcast, f.mcast, f.mcast6]), 'dropOwn without dropOther, one output: own frames dropped');
  t.same([s.elements.ownonly.drops_own, s.elements.ownonly.own, s.elements.ownonly.drops_other], [15, 0, 0]);
  sameBuffers(t, read('none'), rep(frames), 'neither: everything long enough passes');
  t.equal(s.elements.none.drops_short, 2);
  sameBuffers(t, read('one'), rep(deflt0), 'one output: rejected frames dropped');
  t.same([s.elements.one.drops_other, s.elements.one.other, s.elements.one.drops_short], [10, 0, 2], 'and counted in drops_other');
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- DropBroadcasts ----------

t.test('DropBroadcasts drops link-level broadcasts and multicasts by the packet-type annotation, after Strip too', async (t) => {
  const bcast = ether({ dst: 'ff:ff:ff:ff:ff:ff', payload: 'who has' });
  const almost = ether({ dst: 'ff:ff:ff:ff:ff:fe', payload: 'multicast, not broadcast' });
  const mcast = ether({ dst: '01:00:5e:7f:ff:fa', payload: 'ssdp' });
  const uni = udp4Frame({});
  const srcBcast = ether({ src: 'ff:ff:ff:ff:ff:ff', payload: 'broadcast source' });
  const frames: Buffer[] = [];
  for (let i = 0; i < 20; i++) frames.push([bcast, almost, mcast, uni, srcBcast][i % 5]);
  // Shorter than an Ethernet header: FromPcap still types them by the 6 destination bytes.
  const short = [bcast.subarray(0, 13), Buffer.alloc(6, 0xff), Buffer.from([0x02, 0, 0, 0, 0, 1, 9])];
  const inFile = input('dropb', [...frames, ...short]);
  const isGroup = (x: Buffer) => x.length >= 6 && (x[0] & 1) === 1;
  const s = await runGraph(() => {
    FromPcap({ file: inFile }).to(DropBroadcasts({}, 'db')).to(sink('dropb'));
    // Where Click places it: the link header is gone, the annotation is not.
    FromPcap({ file: inFile }).to(Strip({ length: 14 })).to(DropBroadcasts({}, 'db_strip')).to(Unstrip({ length: 14 })).to(sink('dropb-strip'));
    // Output 1 takes what would be dropped.
    const d2 = FromPcap({ file: inFile }).to(DropBroadcasts({}, 'db2'));
    d2.to(sink('dropb-0'));
    d2.out(1).to(sink('dropb-1'));
  });
  sameBuffers(t, read('dropb'), [...frames, ...short].filter((x) => !isGroup(x)), 'unicast destinations pass, in order');
  t.equal(s.elements.db.drops_broadcast, 6, 'broadcasts: 4 whole frames, a 13-byte and a 6-byte one');
  t.equal(s.elements.db.drops_multicast, 8, 'multicasts, ff:ff:ff:ff:ff:fe among them');
  sameBuffers(t, read('dropb-strip'), frames.filter((x) => !isGroup(x)), 'after Strip (frames of 14 bytes or more)');
  t.same([s.elements.db_strip.drops_broadcast, s.elements.db_strip.drops_multicast], [4, 8]);
  sameBuffers(t, read('dropb-0'), [...frames, ...short].filter((x) => !isGroup(x)), 'two outputs: output 0 as with one');
  sameBuffers(t, read('dropb-1'), [...frames, ...short].filter(isGroup), 'two outputs: output 1 gets the broadcasts and multicasts, in order');
  t.same([s.elements.db2.diverted, s.elements.db2.drops_broadcast, s.elements.db2.drops_multicast], [14, 0, 0]);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- pull position ----------

t.test('the agnostic elements work between Queue and Unqueue', async (t) => {
  const plain = plainFrames(500);
  const withBcast = plain.map((f, i) => (i % 10 === 0 ? Buffer.concat([mac('ff:ff:ff:ff:ff:ff'), f.subarray(6)]) : f));
  const short = [Buffer.alloc(13)];
  const inFile = input('pull', [...withBcast, ...short]);
  const pulled = (head: ElementNode, body: (n: ElementNode) => ElementNode, tagName: string) =>
    body(head.to(Queue({ capacity: 1000 }))).to(Unqueue({ burst: 7 })).to(sink(tagName));
  const src = '0a:00:00:00:00:01';
  const dst = '0a:00:00:00:00:02';
  const s = await runGraph(() => {
    pulled(FromPcap({ file: inFile }), (n) => n.to(VLANEncap({ vlanId: 42, pcp: 1 }, 'p_enc')).to(VLANDecap({}, 'p_dec')).to(VLANEncap({ fromAnnotation: true })), 'p-vlan');
    pulled(FromPcap({ file: inFile }), (n) => n.to(EtherRewrite({ src, dst }, 'p_rw')).to(EtherMirror({}, 'p_mirror')), 'p-eth');
    pulled(FromPcap({ file: inFile }), (n) => n.to(DropBroadcasts({}, 'p_db')), 'p-db');
  });
  sameBuffers(t, read('p-vlan'), withBcast.map((f) => tag(f, 0x8100, tci(1, 0, 42))), 'VLANEncap, VLANDecap, VLANEncap(fromAnnotation) pulled');
  t.equal(s.elements.p_enc.drops_short, 1);
  sameBuffers(t, read('p-eth'), withBcast.map((f) => Buffer.concat([mac(src), mac(dst), f.subarray(12)])), 'EtherRewrite then EtherMirror pulled');
  t.equal(s.elements.p_rw.drops_short, 1);
  sameBuffers(t, read('p-db'), [...plain.filter((_, i) => i % 10 !== 0), ...short], 'DropBroadcasts pulled (the 13-byte frame is to 00:00:00:00:00:00)');
  t.same([s.elements.p_db.drops_broadcast, s.elements.p_db.drops_multicast], [50, 0]);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});

// ---------- configuration ----------

t.test('VLANEncap refuses a bad ethertype, nativeVlan, and a tag with fromAnnotation; VLANDecap a bad ethertype', (t) => {
  const build = (cfg: Parameters<typeof VLANEncap>[0]) => () =>
    compile(graph('cfg', () => {
      FromPcap({ file: '/nonexistent.pcap' }).to(VLANEncap(cfg)).to(ToPcap({ file: '/tmp/x.pcap' }));
    }));
  t.throws(build({ vlanId: 1, ethertype: 0x8101 }), /ethertype must be 0x8100/);
  t.throws(build({ vlanId: 4096 }), /vlanId/);
  t.throws(build({ vlanId: 5, fromAnnotation: true }), /fromAnnotation/);
  t.throws(build({ dei: true, fromAnnotation: true }), /leave vlanId, pcp and dei unset/);
  t.throws(build({ nativeVlan: 4096 }), /nativeVlan/);
  t.throws(build({ nativeVlan: -2 }), /nativeVlan/);
  t.doesNotThrow(build({ fromAnnotation: true, ethertype: 0x88a8 }));
  const decap = (ethertype: number) => () =>
    compile(graph('cfg', () => {
      FromPcap({ file: '/nonexistent.pcap' }).to(VLANDecap({ ethertype })).to(ToPcap({ file: '/tmp/x.pcap' }));
    }));
  t.throws(decap(0x5dc), /ethertype/, 'an 802.3 length is no TPID');
  t.doesNotThrow(decap(0x9100));
  t.end();
});
