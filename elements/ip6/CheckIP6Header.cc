// CheckIP6Header: validates IPv6 headers, drops and counts the bad ones by reason.
// Documentation: CheckIP6Header.ts.
#include <cstring>

#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class CheckIP6Header final : public PerPacketElement<CheckIP6Header> {
 public:
  void configure(const Config& conf) override {
    offset_ = uint32_t(conf.integer("offset"));
    c_passed_ = int32_t(counter("packets"));
    c_short_ = counter("drops_short");
    c_version_ = counter("drops_version");
    c_plen_ = counter("drops_payload_length");
    c_source_ = counter("drops_bad_source");
  }

  uint32_t action(Packet* p) {
    const uint32_t len = p->length();
    if (len < offset_ + 40) return c_short_;
    uint8_t* ip = p->data() + offset_;
    if (!ip::offsets_fit(p, ip)) return c_short_;  // the header offsets must fit the annotations
    if ((ip[0] >> 4) != 6) return c_version_;
    const uint32_t avail = len - offset_ - 40;  // bytes after the fixed header
    const uint32_t plen = ip::load_be16(ip + 4);
    if (plen > avail) return c_plen_;
    if (ip[8] == 0xff) return c_source_;  // multicast source
    if (plen < avail) p->take(avail - plen);  // link-layer padding after the datagram
    p->set_network_header(ip);
    p->set_transport_header(ip + 40);
    std::memcpy(p->anno().dst_ip6, ip + 24, 16);
    return kKeep;
  }

 private:
  uint32_t offset_ = 0;
  uint32_t c_short_ = 0, c_version_ = 0, c_plen_ = 0, c_source_ = 0;
};

PG_ELEMENT(CheckIP6Header);

}  // namespace pg
