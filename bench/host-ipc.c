/* The host's own IPC between two processes, for npm run lab:ipc: a request of N bytes and
 * a 1-byte answer over a pipe pair, a Unix socket pair and TCP on 127.0.0.1, round trips
 * timed with CLOCK_MONOTONIC; and memcpy's bandwidth (what a copy costs here). One JSON
 * line per result. Usage: host-ipc SIZE ROUNDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int full(int fd, char *buf, size_t n, int reading) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = reading ? read(fd, buf + done, n - done) : write(fd, buf + done, n - done);
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  return 0;
}

/* The child answers each request of size bytes with one byte, until EOF. */
static void serve(int in, int out, size_t size, char *buf) {
  char ack = 1;
  while (full(in, buf, size ? size : 1, 1) == 0)
    if (full(out, &ack, 1, 0) != 0) break;
  _exit(0);
}

static void report(const char *mech, double *s, int n) {
  qsort(s, n, sizeof *s, cmp);
  printf("{\"mechanism\":\"%s\",\"lang\":\"c\",\"p50_us\":%.2f,\"p99_us\":%.2f}\n", mech, s[n / 2], s[(int)(n * 0.99)]);
}

static void pingpong(const char *mech, int wfd, int rfd, size_t size, int rounds, char *buf, double *s) {
  char ack;
  for (int i = 0; i < rounds + 100; i++) {
    double t0 = now_us();
    if (full(wfd, buf, size ? size : 1, 0) || full(rfd, &ack, 1, 1)) { fprintf(stderr, "%s: io failed\n", mech); exit(1); }
    if (i >= 100) s[i - 100] = now_us() - t0;
  }
  report(mech, s, rounds);
}

int main(int argc, char **argv) {
  size_t size = argc > 1 ? (size_t)atol(argv[1]) : 0;
  int rounds = argc > 2 ? atoi(argv[2]) : 2000;
  if (rounds < 10 || rounds > 1000000 || size > (1 << 20)) { fprintf(stderr, "usage: host-ipc SIZE(<=1MiB) ROUNDS(10..1e6)\n"); return 2; }
  char *buf = calloc(1, size + 1);
  double *s = calloc((size_t)rounds, sizeof *s);
  if (!buf || !s) return 1;

  int a[2], b[2];
  if (pipe(a) || pipe(b)) return 1;
  pid_t p = fork();
  if (p == 0) { close(a[1]); close(b[0]); serve(a[0], b[1], size, buf); }
  close(a[0]); close(b[1]);
  pingpong("pipe", a[1], b[0], size, rounds, buf, s);
  close(a[1]); close(b[0]); waitpid(p, NULL, 0);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return 1;
  p = fork();
  if (p == 0) { close(sv[0]); serve(sv[1], sv[1], size, buf); }
  close(sv[1]);
  pingpong("unix-socket", sv[0], sv[0], size, rounds, buf, s);
  close(sv[0]); waitpid(p, NULL, 0);

  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
  socklen_t len = sizeof addr;
  if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) || listen(l, 1) || getsockname(l, (struct sockaddr *)&addr, &len)) return 1;
  p = fork();
  if (p == 0) {
    int c = accept(l, NULL, NULL);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    serve(c, c, size, buf);
  }
  int c = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr)) return 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  pingpong("tcp-loopback", c, c, size, rounds, buf, s);
  close(c); close(l); waitpid(p, NULL, 0);

  /* memcpy of 64 KiB, many times: bytes per µs. */
  size_t m = 64 * 1024;
  char *x = malloc(m), *y = malloc(m);
  if (!x || !y) return 1;
  memset(x, 7, m);
  double t0 = now_us();
  for (int i = 0; i < 20000; i++) { memcpy(y, x, m); x[i % m] = (char)y[(i * 7) % m]; }
  double us = now_us() - t0;
  printf("{\"mechanism\":\"memcpy\",\"lang\":\"c\",\"bytes_per_us\":%.1f}\n", (double)m * 20000 / us);
  return 0;
}
