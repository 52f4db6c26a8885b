// The XDP program pktgraph attaches for AF_XDP (FromDevice/ToDevice `method: 'xdp'`), for
// readers: it is not compiled. xsk.cc loads the same program as the six BPF instructions it
// compiles to (clang -O2 -target bpf), so building the addon needs neither clang nor libbpf.
//
// Each frame goes to the AF_XDP socket registered for its receive queue in the XSKMAP; a
// queue without a socket gets XDP_PASS (the redirect's fallback action in the flags'
// low bits), so the kernel's own stack still sees it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u32);
} pktgraph_xsks SEC(".maps");

SEC("xdp")
int pktgraph_xsk(struct xdp_md *ctx) {
  return bpf_redirect_map(&pktgraph_xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
