/*
 * ctbench: the benchmark's event generator and process meter, compiled by
 * bench/run.mjs at bench time (gcc -O2) into bench/out/ctbench.
 *
 *   ctbench udp N [BASE [RATE]]
 *                          N new UDP flows, one datagram each, as fast as one
 *                          core can: sendmmsg() batches from one socket bound
 *                          to 127.0.0.1, flow i goes to 127.1.0.0 + i/65535,
 *                          port 1 + i%65535 (BASE shifts i). Distinct
 *                          destination addresses get past 65k ports. RATE > 0
 *                          paces it to RATE flows/s.
 *   ctbench tcp N [PORT]   N TCP connections through their whole life: connect
 *                          (to 127.3.x.y:PORT, a new address every 10,000),
 *                          accept, a request and its answer, client close,
 *                          server close. One thread, loopback, sequential.
 *   ctbench floor FILE MASK
 *                          the floor of reading: joins the conntrack event
 *                          groups in MASK (NEW 1, UPDATE 2, DESTROY 4) with a
 *                          256 MiB receive buffer (ctlogd's default), reads
 *                          with recvmmsg 64 datagrams at a time (after a read
 *                          that emptied the socket, 16 ms later, as ctlogd's
 *                          reader lingers: one wake-up for many events), and writes
 *                          one short line an event ("[NEW] src=ADDR") to FILE
 *                          through stdio's buffer, flushed when nothing came
 *                          for 10 ms. ENOBUFS is counted and read on.
 *                          Stops on SIGTERM; says what it read on stderr.
 *   ctbench run FILE CMD [ARG...]
 *                          runs CMD as a child, forwards SIGTERM/SIGINT/SIGHUP/
 *                          SIGUSR1 to it, and when it exits writes its own
 *                          resource usage (wait4: user and system CPU seconds,
 *                          max RSS) as JSON to FILE. The measured process is
 *                          CMD itself, not this wrapper nor `ip netns exec`.
 *
 * udp and tcp print one JSON line on stdout: what they did and how long the
 * sending took (CLOCK_MONOTONIC), plus their own CPU time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

static void die(const char *what) {
  fprintf(stderr, "ctbench: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void self_cpu(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = tv(ru.ru_utime);
  *sys = tv(ru.ru_stime);
}

/* Dies with the harness: nothing it started outlives it. */
static void tie_to_parent(int sig) {
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, sig);
  if (getppid() != parent) raise(sig);
}

#define BATCH 1024

static void sleep_until(double t) {
  double d = t - now();
  if (d <= 0) return;
  struct timespec ts = {.tv_sec = (time_t)d, .tv_nsec = (long)((d - (time_t)d) * 1e9)};
  nanosleep(&ts, NULL);
}

static int udp(long n, long base, double rate) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die("socket");
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr *)&me, sizeof me) < 0) die("bind");
  static struct mmsghdr msgs[BATCH];
  static struct sockaddr_in dst[BATCH];
  static struct iovec iov;
  static char payload[1] = {'x'};
  iov.iov_base = payload;
  iov.iov_len = sizeof payload;
  long sent = 0, errors = 0;
  int first_errno = 0;
  /* Paced (rate > 0): batches of a millisecond's worth, each sent when due. */
  int batch = BATCH;
  if (rate > 0 && rate / 1000 < BATCH) batch = rate / 1000 < 1 ? 1 : (int)(rate / 1000);
  double t0 = now();
  for (long i = 0; i < n;) {
    if (rate > 0) sleep_until(t0 + i / rate);
    int k = n - i < batch ? (int)(n - i) : batch;
    for (int j = 0; j < k; j++) {
      long f = base + i + j;
      dst[j].sin_family = AF_INET;
      dst[j].sin_port = htons((uint16_t)(1 + f % 65535));
      dst[j].sin_addr.s_addr = htonl(0x7f010000u + (uint32_t)(f / 65535));
      memset(&msgs[j].msg_hdr, 0, sizeof msgs[j].msg_hdr);
      msgs[j].msg_hdr.msg_name = &dst[j];
      msgs[j].msg_hdr.msg_namelen = sizeof dst[j];
      msgs[j].msg_hdr.msg_iov = &iov;
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    int off = 0;
    while (off < k) {
      int r = sendmmsg(s, msgs + off, k - off, 0);
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) continue;
        /* e.g. EPERM: netfilter dropped it (table full). Count, skip it. */
        if (!first_errno) first_errno = errno;
        errors++;
        off++;
        continue;
      }
      sent += r;
      off += r;
    }
    i += k;
  }
  double t1 = now(), user, sys;
  self_cpu(&user, &sys);
  printf("{\"mode\":\"udp\",\"flows\":%ld,\"sent\":%ld,\"errors\":%ld,\"first_error\":\"%s\",\"seconds\":%.6f,\"user\":%.3f,\"sys\":%.3f}\n",
         n, sent, errors, first_errno ? strerror(first_errno) : "", t1 - t0, user, sys);
  return 0;
}

static int tcp(long n, int port) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) die("socket");
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(l, (struct sockaddr *)&any, sizeof any) < 0) die("bind");
  if (listen(l, 4096) < 0) die("listen");
  char buf[64];
  long done = 0, errors = 0;
  int first_errno = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(0x7f030000u + 1 + (uint32_t)(i / 10000))};
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) die("socket");
    if (connect(c, (struct sockaddr *)&to, sizeof to) < 0) {
      if (!first_errno) first_errno = errno;
      errors++;
      close(c);
      continue;
    }
    int a = accept(l, NULL, NULL);
    if (a < 0) die("accept");
    if (send(c, "ping", 4, 0) != 4) die("send");
    if (recv(a, buf, sizeof buf, 0) <= 0) die("recv");
    if (send(a, "pong", 4, 0) != 4) die("send");
    if (recv(c, buf, sizeof buf, 0) <= 0) die("recv");
    close(c);                                  /* client FIN first */
    if (recv(a, buf, sizeof buf, 0) != 0) die("recv eof");
    close(a);                                  /* server FIN: LAST_ACK, TIME_WAIT */
    done++;
  }
  double t1 = now(), user, sys;
  self_cpu(&user, &sys);
  close(l);
  printf("{\"mode\":\"tcp\",\"connections\":%ld,\"done\":%ld,\"errors\":%ld,\"first_error\":\"%s\",\"seconds\":%.6f,\"user\":%.3f,\"sys\":%.3f}\n",
         n, done, errors, first_errno ? strerror(first_errno) : "", t1 - t0, user, sys);
  return 0;
}

static volatile sig_atomic_t stopping;

static void stop(int sig) {
  (void)sig;
  stopping = 1;
}

/* The first attribute of type `type` in [a, end), or NULL. */
static const struct nlattr *attr(const char *a, const char *end, int type) {
  while (a + NLA_HDRLEN <= end) {
    const struct nlattr *n = (const void *)a;
    if (n->nla_len < NLA_HDRLEN || a + n->nla_len > end) return NULL;
    if ((n->nla_type & NLA_TYPE_MASK) == type) return n;
    a += NLA_ALIGN(n->nla_len);
  }
  return NULL;
}

#define FLOOR_BATCH 64
#define FLOOR_SLOT 8192

static int floor_reader(const char *file, int mask) {
  tie_to_parent(SIGTERM);
  struct sigaction sa = {.sa_handler = stop};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  FILE *out = fopen(file, "a");
  if (!out) die(file);
  setvbuf(out, NULL, _IOFBF, 1 << 16);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) die("socket");
  int rcvbuf = 256 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) die("SO_RCVBUFFORCE");
  struct sockaddr_nl sn = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sn, sizeof sn) < 0) die("bind");
  /* A read that waits 10 ms for nothing ends: what was read goes out then. */
  struct timeval idle = {.tv_usec = 10000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle) < 0) die("SO_RCVTIMEO");
  for (int g = 1; g <= 3; g++) {
    int group = g; /* NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY */
    if ((mask & (1 << (g - 1))) && setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
      die("NETLINK_ADD_MEMBERSHIP");
  }
  static char bufs[FLOOR_BATCH][FLOOR_SLOT];
  struct iovec iov[FLOOR_BATCH];
  struct mmsghdr msgs[FLOOR_BATCH];
  for (int i = 0; i < FLOOR_BATCH; i++) {
    iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = FLOOR_SLOT};
    msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
  }
  long events = 0, enobufs = 0, reads = 0;
  fprintf(stderr, "ctbench floor: listening\n");
  while (!stopping) {
    int n = recvmmsg(fd, msgs, FLOOR_BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        fflush(out);
        continue;
      }
      if (errno == ENOBUFS) {
        enobufs++;
        continue;
      }
      die("recvmmsg");
    }
    reads++;
    if (n < FLOOR_BATCH) {
      struct timespec linger = {.tv_nsec = 16000000};
      nanosleep(&linger, NULL);
    }
    for (int i = 0; i < n; i++) {
      unsigned left = msgs[i].msg_len;
      for (const struct nlmsghdr *h = (const void *)bufs[i]; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        int type = h->nlmsg_type & 0xff;
        if (type != IPCTNL_MSG_CT_NEW && type != IPCTNL_MSG_CT_DELETE) continue;
        const char *tag = type == IPCTNL_MSG_CT_DELETE ? "DESTROY" : (h->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL)) ? "NEW" : "UPDATE";
        const char *a = (const char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg)), *ae = (const char *)h + h->nlmsg_len;
        char addr[INET6_ADDRSTRLEN] = "?";
        const struct nlattr *t = attr(a, ae, CTA_TUPLE_ORIG);
        const struct nlattr *ip = t ? attr((const char *)t + NLA_HDRLEN, (const char *)t + t->nla_len, CTA_TUPLE_IP) : NULL;
        if (ip) {
          const char *ia = (const char *)ip + NLA_HDRLEN, *ie = (const char *)ip + ip->nla_len;
          const struct nlattr *v4 = attr(ia, ie, CTA_IP_V4_SRC), *v6 = attr(ia, ie, CTA_IP_V6_SRC);
          if (v4 && v4->nla_len >= NLA_HDRLEN + 4) inet_ntop(AF_INET, (const char *)v4 + NLA_HDRLEN, addr, sizeof addr);
          else if (v6 && v6->nla_len >= NLA_HDRLEN + 16) inet_ntop(AF_INET6, (const char *)v6 + NLA_HDRLEN, addr, sizeof addr);
        }
        fprintf(out, "[%s] src=%s\n", tag, addr);
        events++;
      }
    }
  }
  fflush(out);
  fprintf(stderr, "ctbench floor: %ld events in %ld reads, %ld ENOBUFS\n", events, reads, enobufs);
  return 0;
}

static volatile pid_t child;

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

static int run(const char *file, char **argv) {
  /* If the harness dies, the measured process is told to stop. */
  tie_to_parent(SIGTERM);
  struct sigaction sa = {.sa_handler = forward};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT};
  for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
  double t0 = now();
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &dfl, NULL);
    execvp(argv[0], argv);
    fprintf(stderr, "ctbench run: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  child = pid;
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) die("wait4");
  }
  double t1 = now();
  FILE *f = fopen(file, "w");
  if (!f) die(file);
  fprintf(f, "{\"pid\":%d,\"exit\":%d,\"signal\":%d,\"user\":%.6f,\"sys\":%.6f,\"maxrss_kb\":%ld,\"wall\":%.3f,\"minflt\":%ld,\"nvcsw\":%ld,\"nivcsw\":%ld}\n",
          pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
          tv(ru.ru_utime), tv(ru.ru_stime), ru.ru_maxrss, t1 - t0, ru.ru_minflt, ru.ru_nvcsw, ru.ru_nivcsw);
  fclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 3 && !strcmp(argv[1], "udp")) {
    tie_to_parent(SIGKILL);
    return udp(atol(argv[2]), argc > 3 ? atol(argv[3]) : 0, argc > 4 ? atof(argv[4]) : 0);
  }
  if (argc >= 3 && !strcmp(argv[1], "tcp")) {
    tie_to_parent(SIGKILL);
    return tcp(atol(argv[2]), argc > 3 ? atoi(argv[3]) : 7000);
  }
  if (argc >= 4 && !strcmp(argv[1], "run")) return run(argv[2], argv + 3);
  if (argc >= 4 && !strcmp(argv[1], "floor")) return floor_reader(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: ctbench udp N [BASE [RATE]] | tcp N [PORT] | floor FILE MASK | run FILE CMD [ARG...]\n");
  return 64;
}
