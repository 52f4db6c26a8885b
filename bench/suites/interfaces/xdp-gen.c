// The interfaces suite's fastest generator (--generator xdp): the kernel sends the frames, with
// no socket buffer and no system call per frame. An XDP program that only redirects to the
// generator's veth is run by BPF_PROG_RUN in "live frames" mode (BPF_F_TEST_XDP_LIVE_FRAMES,
// Linux 5.18+; what xdp-trafficgen does): the kernel builds each frame from FRAME in a page
// pool page and transmits it with the veth's ndo_xdp_xmit straight into the peer's receive
// ring. The peer (the device under test's end) must have NAPI: an XDP program (AF_XDP cases)
// or GRO on (the suite turns it on). Frames the peer's ring has no room for are counted by the
// kernel as the generator veth's tx_dropped, so offered = tx_packets + tx_dropped still holds.
//
//   xdp-gen DEVICE DST_MAC FRAME_BYTES PPS SECONDS
//   xdp-gen --drop DEVICE      (the sink's cheap drop, --sink-drop xdp: see drop_until_killed)
//
// One flow (198.18.0.1:1024 -> 198.19.0.3:9, UDP, checksum 0): the frames are the same bytes.
// PPS 0: as fast as it can. Prints {"sent":N,"seconds":S} (frames handed to the program runs).
// Built by the suite with the system's C compiler (the kernel UAPI headers only).
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr* a) { return syscall(__NR_bpf, cmd, a, sizeof *a); }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int load(const struct bpf_insn* insns, uint32_t n, const char* name) {
  char log[2048] = "";
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = n;
  a.license = (uint64_t)(uintptr_t) "GPL";
  a.log_buf = (uint64_t)(uintptr_t)log;
  a.log_size = sizeof log;
  a.log_level = 1;
  a.expected_attach_type = BPF_XDP;
  strncpy(a.prog_name, name, sizeof a.prog_name - 1);
  const int fd = (int)bpf(BPF_PROG_LOAD, &a);
  if (fd < 0) fprintf(stderr, "xdp-gen: cannot load the XDP program: %s %s\n", strerror(errno), log);
  return fd;
}

// --drop DEVICE: `return XDP_DROP` attached natively to DEVICE (the sink's veth) through a BPF
// link, until this process is killed (the kernel detaches it then). On veth the sender's thread
// runs the receiver's path, so a sink that drops in its IP stack (300-450 ns a frame) charges
// that to the forwarder under test; XDP drops it first thing. The veth still counts each frame
// in rx_packets (its NAPI counts what it takes from its ring, dropped or not).
static int drop_until_killed(const char* dev) {
  const unsigned ifindex = if_nametoindex(dev);
  if (!ifindex) {
    fprintf(stderr, "xdp-gen: no device %s\n", dev);
    return 2;
  }
  const struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_DROP},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  const int prog = load(insns, 2, "pktgraph_sink");
  if (prog < 0) return 1;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = (uint32_t)prog;
  a.link_create.target_ifindex = ifindex;
  a.link_create.attach_type = BPF_XDP;
  a.link_create.flags = XDP_FLAGS_DRV_MODE;
  if (bpf(BPF_LINK_CREATE, &a) < 0) {
    fprintf(stderr, "xdp-gen: cannot attach the drop program to %s: %s\n", dev, strerror(errno));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--drop") == 0) return drop_until_killed(argv[2]);
  if (argc != 6) {
    fprintf(stderr, "usage: xdp-gen DEVICE DST_MAC FRAME_BYTES PPS SECONDS\n");
    return 2;
  }
  const unsigned ifindex = if_nametoindex(argv[1]);
  unsigned mac[6];
  const int len = atoi(argv[3]) - 4;  // no FCS on a veth
  const double pps = atof(argv[4]), seconds = atof(argv[5]);
  if (!ifindex || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 || len < 60 || len > 1514) {
    fprintf(stderr, "xdp-gen: bad device, MAC or frame size\n");
    return 2;
  }
  uint8_t f[1514] = {0};
  for (int i = 0; i < 6; i++) f[i] = (uint8_t)mac[i];
  const uint8_t src[6] = {2, 0, 0, 0, 0, 1};
  memcpy(f + 6, src, 6);
  f[12] = 0x08;
  const int ip_len = len - 14;
  const uint8_t ip[20] = {0x45, 0, (uint8_t)(ip_len >> 8), (uint8_t)ip_len, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 19, 0, 3};
  memcpy(f + 14, ip, 20);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(f[14 + i] << 8 | f[15 + i]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  f[24] = (uint8_t)(~sum >> 8);
  f[25] = (uint8_t)~sum;
  const int udp_len = ip_len - 20;
  const uint8_t udp[8] = {0x04, 0x00, 0x00, 0x09, (uint8_t)(udp_len >> 8), (uint8_t)udp_len, 0, 0};
  memcpy(f + 34, udp, 8);

  // return bpf_redirect(ifindex, 0);
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, (int32_t)ifindex},
      {BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 0},
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  const int prog = load(insns, sizeof insns / sizeof insns[0], "pktgraph_gen");
  if (prog < 0) return 1;
  union bpf_attr a;
  // Paced: runs of up to 1 ms of frames (at least one batch), then sleep until the schedule
  // catches up; a run's frames leave back to back at the kernel's speed.
  const double t0 = now_s();
  uint64_t sent = 0;
  for (;;) {
    const double t = now_s() - t0;
    if (t >= seconds) break;
    uint64_t n = 1u << 16;
    if (pps > 0) {
      const double due = pps * (t + 0.001 < seconds ? t + 0.001 : seconds);
      if ((double)sent + 64 > due) {
        const double wait = ((double)sent + 64) / pps - 0.001 - t;
        struct timespec ts = {0, (long)(wait * 1e9)};
        if (wait > 0) nanosleep(&ts, NULL);
        continue;
      }
      n = (uint64_t)(due - (double)sent);
    }
    memset(&a, 0, sizeof a);
    a.test.prog_fd = (uint32_t)prog;
    a.test.data_in = (uint64_t)(uintptr_t)f;
    a.test.data_size_in = (uint32_t)len;
    a.test.repeat = (uint32_t)n;
    a.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    a.test.batch_size = 64;
    if (bpf(BPF_PROG_TEST_RUN, &a) != 0 && errno != EINTR) {
      fprintf(stderr, "xdp-gen: BPF_PROG_RUN (live frames) failed: %s\n", strerror(errno));
      return 1;
    }
    sent += n;
  }
  printf("{\"sent\":%llu,\"seconds\":%.6f}\n", (unsigned long long)sent, now_s() - t0);
  return 0;
}
