/*
 * Native yardstick for the WebAssembly Maglev engine (assembly/maglev/table.ts).
 *
 * Why this exists: the engine's speed claim ("close to native") needs a native
 * build of the SAME algorithm to compare against, not Cilium's N x M matrix
 * version, which does far more work. So this file repeats the engine's
 * choices step for step: MurmurHash3 x64 128 of each key, backends sorted by
 * key bytes, offset = h1 % M and skip = h2 % (M - 1) + 1 in 64-bit, one cursor
 * per backend walking its permutation with a conditional subtraction, then
 * the round-robin or Cilium's weighted fill. bench/maglev.bench.ts checks
 * that its tables equal the engine's before timing anything.
 *
 * Input (a file named by argv[1], or stdin when it is "-"), whitespace-separated:
 *
 *   wasmplane-maglev-bench-v1
 *   M SEED N WARMUP MIN_REPS MAX_REPS BUDGET_MS
 *   ID WEIGHT KEY          (N lines; keys hold no whitespace)
 *
 * Output on stdout: one "ns <nanoseconds>" line per timed repetition, then
 * "checksum 0x<fnv1a32 of the table as little-endian u32s>" and
 * "maxrss_kb <peak RSS>". With argv[2], the final table is also written there
 * as raw little-endian u32s so the bench can compare it slot for slot.
 *
 * Only the build is timed (sort, hash, fill), as the engine's maglevBuild is:
 * buffers are allocated once up front, because the engine also keeps its
 * buffers between builds.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#define EMPTY_SLOT 0xffffffffu
#define MAX_KEY 512

typedef struct {
  const uint8_t *key;
  uint32_t len;
  uint32_t id;
  uint32_t weight;
} backend_t;

/* ---- MurmurHash3 x64 128 ------------------------------------------------ */

static const uint64_t C1 = 0x87c37b91114253d5ull;
static const uint64_t C2 = 0x4cf5ad432745937full;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Assembled byte by byte so the result is little-endian on any host, as the
 * reference (and WebAssembly) read blocks; compilers turn this into one load. */
static inline uint64_t load64le(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

static void murmur3_x64_128(const uint8_t *data, size_t len, uint32_t seed, uint64_t *out1, uint64_t *out2) {
  uint64_t h1 = seed, h2 = seed;
  size_t blocks = len / 16;
  for (size_t i = 0; i < blocks; i++) {
    uint64_t k1 = load64le(data + i * 16);
    uint64_t k2 = load64le(data + i * 16 + 8);
    k1 *= C1; k1 = rotl64(k1, 31); k1 *= C2; h1 ^= k1;
    h1 = rotl64(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
    k2 *= C2; k2 = rotl64(k2, 33); k2 *= C1; h2 ^= k2;
    h2 = rotl64(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
  }
  /* Tail: bytes 8..14 go to lane 2, bytes 0..7 to lane 1, little-endian. */
  const uint8_t *tail = data + blocks * 16;
  size_t rest = len & 15;
  uint64_t k1 = 0, k2 = 0;
  if (rest > 8) {
    for (size_t j = 8; j < rest; j++) k2 |= (uint64_t)tail[j] << ((j - 8) * 8);
    k2 *= C2; k2 = rotl64(k2, 33); k2 *= C1; h2 ^= k2;
  }
  if (rest > 0) {
    size_t top = rest < 8 ? rest : 8;
    for (size_t j = 0; j < top; j++) k1 |= (uint64_t)tail[j] << (j * 8);
    k1 *= C1; k1 = rotl64(k1, 31); k1 *= C2; h1 ^= k1;
  }
  h1 ^= (uint64_t)len; h2 ^= (uint64_t)len;
  h1 += h2; h2 += h1;
  h1 = fmix64(h1); h2 = fmix64(h2);
  h1 += h2; h2 += h1;
  *out1 = h1;
  *out2 = h2;
}

/* ---- Build -------------------------------------------------------------- */

/* Byte order, a proper prefix first: Go's string order, which Cilium sorts by. */
static int compare_backends(const void *pa, const void *pb) {
  const backend_t *a = pa, *b = pb;
  uint32_t common = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->key, b->key, common);
  if (c != 0) return c;
  return (a->len > b->len) - (a->len < b->len);
}

typedef struct {
  uint32_t n, m;
  backend_t *sorted; /* n, rewritten from the input each build */
  uint32_t *cursor;  /* n */
  uint32_t *skip;    /* n */
  double *counter;   /* n */
  uint32_t *table;   /* m */
} workspace_t;

/* Takes the next free slot in backend s's permutation. cursor < m and
 * skip < m, so cursor + skip < 2m fits u32 and one subtraction wraps it. */
static inline void take_slot(workspace_t *w, uint32_t s) {
  uint32_t m = w->m, step = w->skip[s], c = w->cursor[s];
  uint32_t *table = w->table;
  while (table[c] != EMPTY_SLOT) {
    c += step;
    if (c >= m) c -= m;
  }
  table[c] = w->sorted[s].id;
  c += step;
  if (c >= m) c -= m;
  w->cursor[s] = c;
}

/* Returns 0, or -1 for a duplicate key (the engine rejects those too). */
static int build(workspace_t *w, const backend_t *input, uint32_t seed) {
  uint32_t n = w->n, m = w->m;
  memcpy(w->sorted, input, sizeof(backend_t) * n);
  qsort(w->sorted, n, sizeof(backend_t), compare_backends);

  uint64_t weight_sum = 0;
  for (uint32_t s = 0; s < n; s++) {
    if (s > 0 && compare_backends(&w->sorted[s - 1], &w->sorted[s]) == 0) return -1;
    uint64_t h1, h2;
    murmur3_x64_128(w->sorted[s].key, w->sorted[s].len, seed, &h1, &h2);
    w->cursor[s] = (uint32_t)(h1 % (uint64_t)m);
    w->skip[s] = (uint32_t)(h2 % (uint64_t)(m - 1) + 1);
    weight_sum += w->sorted[s].weight;
    w->counter[s] = (double)w->sorted[s].weight / (double)n;
  }

  memset(w->table, 0xff, sizeof(uint32_t) * m);
  if (weight_sum / n > 1) {
    /* Cilium's weighted fill: a backend passes its turn to the next one
     * while it is ahead of its share; the taker pays sum(weights). */
    double sum_f = (double)weight_sum;
    for (uint32_t turn = 0; turn < m; turn++) {
      uint32_t s = turn % n;
      uint64_t next = (uint64_t)turn + 1;
      while (next * w->sorted[s].weight < (uint64_t)w->counter[s]) {
        if (++s == n) s = 0;
      }
      w->counter[s] += sum_f;
      take_slot(w, s);
    }
  } else {
    uint32_t s = 0;
    for (uint32_t turn = 0; turn < m; turn++) {
      take_slot(w, s);
      if (++s == n) s = 0;
    }
  }
  return 0;
}

/* ---- Driver ------------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* FNV-1a 32 over the table's bytes in little-endian order (the bench
 * computes the same over the engine's Uint32Array). */
static uint32_t fnv1a(const uint32_t *table, uint32_t m) {
  uint32_t h = 0x811c9dc5u;
  for (uint32_t i = 0; i < m; i++) {
    for (int b = 0; b < 4; b++) {
      h ^= (table[i] >> (8 * b)) & 0xff;
      h *= 0x01000193u;
    }
  }
  return h;
}

/* Peak RSS of this program. Linux carries getrusage's ru_maxrss across
 * exec, so a child of node would report node's size; VmHWM belongs to the
 * current address space only. getrusage is the fallback elsewhere. */
static long peak_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    }
    fclose(f);
    if (kb >= 0) return kb;
  }
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static void die(const char *msg) {
  fprintf(stderr, "maglev-native: %s\n", msg);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: maglev INPUT|- [TABLE_OUT]");
  FILE *in = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
  if (!in) die("cannot open input");

  char magic[64];
  unsigned m, seed, n, warmup, min_reps, max_reps, budget_ms;
  if (fscanf(in, "%63s", magic) != 1 || strcmp(magic, "wasmplane-maglev-bench-v1") != 0) die("bad header");
  if (fscanf(in, "%u %u %u %u %u %u %u", &m, &seed, &n, &warmup, &min_reps, &max_reps, &budget_ms) != 7) {
    die("bad parameters line");
  }
  if (n == 0 || m <= n || min_reps == 0 || max_reps < min_reps) die("bad parameters");

  backend_t *input = calloc(n, sizeof(backend_t));
  char *key_store = malloc((size_t)n * MAX_KEY);
  if (!input || !key_store) die("out of memory");
  for (unsigned i = 0; i < n; i++) {
    char *key = key_store + (size_t)i * MAX_KEY;
    unsigned id, weight;
    if (fscanf(in, "%u %u %511s", &id, &weight, key) != 3) die("bad backend line");
    input[i] = (backend_t){ (const uint8_t *)key, (uint32_t)strlen(key), id, weight };
  }
  if (in != stdin) fclose(in);

  workspace_t w = {
    .n = n, .m = m,
    .sorted = malloc(sizeof(backend_t) * n),
    .cursor = malloc(sizeof(uint32_t) * n),
    .skip = malloc(sizeof(uint32_t) * n),
    .counter = malloc(sizeof(double) * n),
    .table = malloc(sizeof(uint32_t) * m),
  };
  uint64_t *samples = malloc(sizeof(uint64_t) * max_reps);
  if (!w.sorted || !w.cursor || !w.skip || !w.counter || !w.table || !samples) die("out of memory");

  for (unsigned i = 0; i < warmup; i++) {
    if (build(&w, input, seed) != 0) die("duplicate key");
  }
  /* At least min_reps, then more until the budget is spent or max_reps. */
  uint64_t budget_ns = (uint64_t)budget_ms * 1000000ull, spent = 0;
  unsigned reps = 0;
  while (reps < max_reps && (reps < min_reps || spent < budget_ns)) {
    uint64_t t0 = now_ns();
    int rc = build(&w, input, seed);
    uint64_t dt = now_ns() - t0;
    if (rc != 0) die("duplicate key");
    samples[reps++] = dt;
    spent += dt;
  }
  /* Printed after timing so stdio never runs inside the measured loop. */
  for (unsigned i = 0; i < reps; i++) printf("ns %llu\n", (unsigned long long)samples[i]);
  printf("checksum 0x%08x\n", fnv1a(w.table, m));

  if (argc > 2) {
    FILE *out = fopen(argv[2], "wb");
    if (!out) die("cannot open table output");
    /* Written slot by slot in little-endian so the file reads back the same anywhere. */
    for (uint32_t i = 0; i < m; i++) {
      uint8_t b[4] = { w.table[i] & 0xff, (w.table[i] >> 8) & 0xff, (w.table[i] >> 16) & 0xff, w.table[i] >> 24 };
      fwrite(b, 1, 4, out);
    }
    fclose(out);
  }
  printf("maxrss_kb %ld\n", peak_rss_kb());
  return 0;
}
