// IPFragmenter: splits IPv4 datagrams larger than the MTU into fragments (RFC 791); DF
// packets go to output 1 (if connected) or are dropped. Documentation: IPFragmenter.ts.
#include "ip_util.h"

namespace pg {

// Not a PerPacketElement (native/per_packet.h), though it sends DF packets to output 1 as
// one: a datagram over the MTU becomes several packets, allocated from the pool, and
// PerPacketElement's action can only pass, drop or reject the one packet it is given.

class IPFragmenter final : public Element {
 public:
  void configure(const Config& conf) override {
    mtu_ = uint32_t(conf.integer("mtu"));
    honor_df_ = conf.boolean("honorDF");
    c_packets_ = counter("packets");
    c_fragmented_ = counter("fragmented");
    c_fragments_ = counter("fragments");
    c_df_ = counter("drops_df");
    c_malformed_ = counter("drops_malformed");
    c_pool_empty_ = counter("drops_pool_empty");
  }

  void push(int, Batch& b) override {
    Batch out0, out1;
    Packet* dead[kMaxBatch];
    uint32_t ndead = 0;
    uint64_t npass = 0, nfragd = 0, nfrags = 0, ndf = 0, nbad = 0, nempty = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint8_t* ip = ip::network_header_20(p);
      uint32_t hlen = 0, total = 0;
      if (ip) {
        hlen = uint32_t(ip[0] & 15) * 4;
        total = ip::load_be16(ip + 2);
      }
      if (!ip || (ip[0] >> 4) != 4 || hlen < 20 || total < hlen || ip + total > p->end_data()) {
        dead[ndead++] = p;
        nbad++;
        continue;
      }
      if (total <= mtu_) {
        npass++;
        add(out0, 0, p);
        continue;
      }
      if (honor_df_ && (ip[6] & 0x40)) {
        if (noutputs() > 1) {
          add(out1, 1, p);
        } else {
          dead[ndead++] = p;
          ndf++;
        }
        continue;
      }
      // Options for the later fragments: only those with the copied flag.
      uint8_t later[60];
      std::memcpy(later, ip, 20);
      uint32_t later_len = 20;
      bool ok = true;
      for (uint32_t o = 20; o < hlen;) {
        const uint8_t type = ip[o];
        if (type == 0) break;           // end of option list
        if (type == 1) { o++; continue; }  // no-operation (not copied)
        if (o + 1 >= hlen || ip[o + 1] < 2 || o + ip[o + 1] > hlen) {
          ok = false;
          break;
        }
        const uint32_t olen = ip[o + 1];
        if (type & 0x80) {
          std::memcpy(later + later_len, ip + o, olen);
          later_len += olen;
        }
        o += olen;
      }
      if (!ok) {
        dead[ndead++] = p;
        nbad++;
        continue;
      }
      while (later_len & 3) later[later_len++] = 0;  // padded with end-of-list
      later[0] = uint8_t(0x40 | later_len / 4);

      const uint32_t payload = total - hlen;
      const uint16_t field = ip::load_be16(ip + 6);
      const uint32_t base_off = uint32_t(field & 0x1fff) * 8;
      const bool orig_mf = field & 0x2000;
      const uint8_t df = field & 0x4000 ? 0x40 : 0;
      const uint32_t prefix = uint32_t(ip - p->data());
      const uint32_t hr = p->headroom();
      uint32_t from = hr;
      const Annotations& a = p->anno();
      for (int16_t off : {a.mac_offset, a.network_offset, a.transport_offset})
        if (off >= 0 && uint32_t(off) < from) from = uint32_t(off);
      const uint32_t first_data = (mtu_ - hlen) & ~7u, later_data = (mtu_ - later_len) & ~7u;
      const int32_t ip_off = int32_t(ip - p->buffer());

      uint32_t done = 0;  // payload bytes emitted
      bool failed = false;
      uint64_t emitted = 0;
      while (done < payload) {
        if (out0.full()) flush(out0, 0);
        // Allocate as many fragments as remain (up to the batch room) at once.
        uint32_t need = 0;
        {
          uint32_t d = done;
          while (d < payload && need < kMaxBatch - out0.count) {
            d += d == 0 ? first_data : later_data;
            need++;
          }
        }
        Packet** slot = out0.pkts + out0.count;
        const uint32_t got = pool().alloc(slot, need);
        if (got < need) {
          if (got) pool().free(slot, got);
          failed = true;
          break;
        }
        for (uint32_t k = 0; k < got; k++) {
          Packet* q = slot[k];
          const bool first = done == 0;
          const uint8_t* hsrc = first ? ip : later;
          const uint32_t fh = first ? hlen : later_len;
          uint32_t len = first ? first_data : later_data;
          if (len > payload - done) len = payload - done;
          const bool mf = done + len < payload || orig_mf;
          // Same headroom and front bytes as the original.
          const uint32_t qhr = q->headroom();
          if (hr > qhr) {
            q->put(hr - qhr);
            q->pull(hr - qhr);
          } else if (hr < qhr) {
            q->push(qhr - hr);
            q->take(qhr - hr);
          }
          q->set_length(prefix + fh + len);
          std::memcpy(q->buffer() + from, p->buffer() + from, hr - from + prefix);
          uint8_t* qip = q->buffer() + ip_off;
          std::memcpy(qip, hsrc, fh);
          std::memcpy(qip + fh, ip + hlen + done, len);
          qip[2] = uint8_t((fh + len) >> 8);
          qip[3] = uint8_t(fh + len);
          const uint32_t off8 = (base_off + done) / 8;
          qip[6] = uint8_t(df | (mf ? 0x20 : 0) | ((off8 >> 8) & 0x1f));
          qip[7] = uint8_t(off8);
          qip[10] = qip[11] = 0;
          ip::store16(qip + 10, ip::checksum(qip, fh));
          q->anno() = a;
          if (!first) q->anno().transport_offset = -1;
          else if (a.transport_offset >= 0 && a.transport_offset != int16_t(ip_off + hlen)) q->anno().transport_offset = -1;
          done += len;
        }
        out0.count += got;
        emitted += got;
      }
      nfrags += emitted;
      if (failed) nempty++;
      else nfragd++;
      dead[ndead++] = p;
    }
    if (ndead) pool().free(dead, ndead);
    if (npass) count(c_packets_, npass);
    if (nfragd) count(c_fragmented_, nfragd);
    if (nfrags) count(c_fragments_, nfrags);
    if (ndf) count(c_df_, ndf);
    if (nbad) count(c_malformed_, nbad);
    if (nempty) count(c_pool_empty_, nempty);
    b.count = 0;
    flush(out0, 0);
    flush(out1, 1);
  }

 private:
  void add(Batch& out, int port, Packet* p) {
    if (out.full()) flush(out, port);
    out.add(p);
  }
  void flush(Batch& out, int port) {
    if (out.count) output_push(port, out);
    out.count = 0;
  }

  uint32_t mtu_ = 1500;
  bool honor_df_ = true;
  uint32_t c_packets_ = 0, c_fragmented_ = 0, c_fragments_ = 0, c_df_ = 0, c_malformed_ = 0, c_pool_empty_ = 0;
};

PG_ELEMENT(IPFragmenter);

}  // namespace pg
