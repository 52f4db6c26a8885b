// CheckIPHeader: validates IPv4 headers, drops and counts the bad ones by reason.
// Documentation: CheckIPHeader.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class CheckIPHeader final : public PerPacketElement<CheckIPHeader> {
 public:
  void configure(const Config& conf) override {
    offset_ = uint32_t(conf.integer("offset"));
    checksum_ = conf.boolean("checksum");
    c_passed_ = int32_t(counter("packets"));
    c_short_ = counter("drops_short");
    c_version_ = counter("drops_version");
    c_hlen_ = counter("drops_header_length");
    c_tlen_ = counter("drops_total_length");
    c_checksum_ = counter("drops_checksum");
    c_source_ = counter("drops_bad_source");
  }

  uint32_t action(Packet* p) {
    const uint32_t len = p->length();
    if (len < offset_ + 20) return c_short_;
    uint8_t* ip = p->data() + offset_;
    if (!ip::offsets_fit(p, ip)) return c_short_;
    const uint32_t avail = len - offset_;
    if ((ip[0] >> 4) != 4) return c_version_;
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
    if (hlen < 20) return c_hlen_;
    if (hlen > avail) return c_short_;
    const uint32_t total = ip::load_be16(ip + 2);
    if (total < hlen || total > avail) return c_tlen_;
    if (checksum_ && ip::fold(ip::sum_bytes(ip, hlen)) != 0xffff) return c_checksum_;
    // Source 255.255.255.255 or multicast (224.0.0.0/4).
    if ((ip[12] & 0xf0) == 0xe0 || (ip[12] == 255 && ip[13] == 255 && ip[14] == 255 && ip[15] == 255)) return c_source_;
    if (total < avail) p->take(avail - total);  // link-layer padding after the datagram
    p->set_network_header(ip);
    p->set_transport_header(ip + hlen);
    return kKeep;
  }

 private:
  uint32_t offset_ = 0;
  bool checksum_ = true;
  uint32_t c_short_ = 0, c_version_ = 0, c_hlen_ = 0, c_tlen_ = 0, c_checksum_ = 0, c_source_ = 0;
};

PG_ELEMENT(CheckIPHeader);

}  // namespace pg
