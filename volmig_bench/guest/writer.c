/*
 * volmig-writer: the benchmark's guest write load.
 *
 * Queue depth 1 O_DIRECT writes to one disk at a steady target rate, with
 * a seeded size mix and seeded offsets, so that the whole sequence of writes
 * follows from (seed, mix, disk size, count). volmig_bench/guest/expected.py
 * recomputes it bit for bit; keep the two in step (see PROTOCOL below).
 *
 * PRNG: splitmix64.  Draw j (j = 0, 1, ...) of the schedule stream is
 * mix(seed + (j + 1) * GAMMA).  Write number `seq` uses draw 2*seq for its
 * size (index into the cumulative mix weights, modulo their sum) and draw
 * 2*seq+1 for its offset: (draw % nslots) * align with
 * nslots = (disk_size - size) / align + 1 (align: --align, default 4096,
 * a multiple of 4096).
 * Content: a 4096-byte pattern of 512 words, word i = mix(key + (i + 1) *
 * GAMMA) with key = seed ^ seq * K1 ^ offset * K2; every 4096-byte sector
 * of the write is that pattern with words 0..3 replaced by MAGIC, seed,
 * seq and the sector's own byte offset on the disk (all little-endian).
 *
 * DURABILITY: a write is acknowledged only once it is durable: pwrite()
 * on the O_DIRECT disk, then fdatasync() (a virtio-blk FLUSH, which QEMU
 * turns into a flush of its image) after every --sync-every writes
 * (default 1: each write), and before the writer sleeps for its rate
 * schedule, so an acknowledgement never waits on idle time. The A line is
 * printed (and flushed) the moment fdatasync() returned. --sync-every 0 is
 * the old behaviour: one fsync() at the end, the only A line after it.
 *
 * PROTOCOL version 2 (stdout, one line each, plain ASCII):
 *   H volmig-writer 2 dev=<path> size=<bytes> seed=<n> rate=<bytes/s>
 *     mix=<size:weight,...> window_us=<n> align=<bytes>
 *     uptime_ms=<guest uptime> sync_every=<n>
 *   S t0_us=<CLOCK_MONOTONIC of write 0's schedule>
 *   A <first> <last> off=<offset> len=<bytes>  writes <first>..<last>
 *     (inclusive) are durable: acknowledged. Ranges are contiguous from 0
 *     (first = previous last + 1); off/len are those of write <last>, for
 *     the host to check that it recomputes the same schedule. Writes are
 *     deterministic, so the range says everything else (content seed: the
 *     H line's seed).
 *   L <window> <n> <lat_us> ... latencies of the n writes *issued* in
 *     window number <window> (issue time - t0) / window_us, in order:
 *     from issue to acknowledgement (pwrite plus its share of fdatasync;
 *     with --sync-every 0, the pwrite alone)
 *   G <seq> <lag_us>  the schedule was behind by more than max lag and was
 *     reset before write <seq> (the writer does not burst to catch up)
 *   E seq=<n> errno=<n>  write <seq> failed; it is not acknowledged
 *   D count=<n> bytes=<n> fsync_us=<n> reason=<count|duration|signal|
 *     power-button|error> status=<ok|error>
 * Version 1 (no A lines, no sync_every) acknowledged nothing before D.
 * A is authoritative for what was acknowledged so far; D's count is the
 * number of writes pwrite() completed (equal to the acknowledged count
 * when status=ok), printed after the final fsync() returned.
 *
 * Stops on: --count writes, --duration seconds, SIGINT/SIGTERM, or a
 * KEY_POWER press on any /dev/input/event* (an ACPI power-button press sent
 * by the host, e.g. virDomainShutdownFlags(ACPI_POWER_BTN)).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/input.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GAMMA 0x9E3779B97F4A7C15ULL
#define K1 0xD1B54A32D192ED03ULL
#define K2 0xABC98388FB8FAC03ULL
#define MAGIC 0x3157474D4C4F56ULL /* "VOLMGW1\0" little-endian */
#define SECTOR 4096
#define WORDS (SECTOR / 8)
#define MAX_MIX 16
#define MAX_INPUTS 16
#define MAX_SYNC_EVERY 4096
#define SERIAL_BYTES 20 /* VIRTIO_BLK_ID_BYTES: the guest sees no more */

static volatile sig_atomic_t got_signal;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t draw(uint64_t seed, uint64_t j)
{
    return mix64(seed + (j + 1) * GAMMA);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t parse_size(const char *s, char **end)
{
    uint64_t v = strtoull(s, end, 10);
    switch (**end) {
    case 'k': case 'K': v <<= 10; (*end)++; break;
    case 'm': case 'M': v <<= 20; (*end)++; break;
    case 'g': case 'G': v <<= 30; (*end)++; break;
    default: break;
    }
    return v;
}

struct mix {
    int n;
    uint64_t size[MAX_MIX];
    uint64_t cum[MAX_MIX]; /* cumulative weights */
};

/* "64k" or "4k:30,64k:60,1m:10"; sizes must be multiples of 4096. */
static int parse_mix(const char *spec, struct mix *m)
{
    const char *p = spec;
    uint64_t total = 0;
    m->n = 0;
    while (*p) {
        char *end;
        uint64_t size, weight = 1;
        if (m->n == MAX_MIX)
            return -1;
        size = parse_size(p, &end);
        if (end == p || size == 0 || size % SECTOR)
            return -1;
        p = end;
        if (*p == ':') {
            weight = strtoull(p + 1, &end, 10);
            if (end == p + 1 || weight == 0)
                return -1;
            p = end;
        }
        total += weight;
        m->size[m->n] = size;
        m->cum[m->n] = total;
        m->n++;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return m->n ? 0 : -1;
}

static void fill(uint64_t *buf, uint64_t size, uint64_t seed, uint64_t seq,
                 uint64_t off)
{
    uint64_t key = seed ^ (seq * K1) ^ (off * K2);
    uint64_t s, w;
    for (w = 0; w < WORDS; w++)
        buf[w] = mix64(key + (w + 1) * GAMMA);
    for (s = 1; s < size / SECTOR; s++)
        memcpy(buf + s * WORDS, buf, SECTOR);
    for (s = 0; s < size / SECTOR; s++) {
        uint64_t *h = buf + s * WORDS;
        h[0] = MAGIC;
        h[1] = seed;
        h[2] = seq;
        h[3] = off + s * SECTOR;
    }
}

/*
 * 1 if the disk serial `seen` (sysfs, newline-terminated) matches the
 * wanted prefix. virtio-blk carries at most SERIAL_BYTES bytes of serial,
 * so a volume id (36 characters, as Nova sets it) arrives truncated: only
 * its first SERIAL_BYTES characters are compared.
 */
static int serial_matches(const char *seen, const char *wanted)
{
    size_t n = strlen(wanted), len = strcspn(seen, "\n");
    if (n > SERIAL_BYTES)
        n = SERIAL_BYTES;
    return n > 0 && len >= n && !strncmp(seen, wanted, n);
}

/* The first virtio disk (or one whose serial starts with `serial`). */
static int find_disk(const char *serial, char *out, size_t outlen)
{
    DIR *d = opendir("/sys/block");
    struct dirent *e;
    char best[64] = "";
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "vd", 2))
            continue;
        if (serial) {
            char path[300], buf[128] = "";
            FILE *f;
            snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
            f = fopen(path, "r");
            if (!f)
                continue;
            if (!fgets(buf, sizeof(buf), f))
                buf[0] = 0;
            fclose(f);
            if (!serial_matches(buf, serial))
                continue;
        }
        if (!best[0] || strlen(e->d_name) < strlen(best) ||
            (strlen(e->d_name) == strlen(best) &&
             strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof(best), "%s", e->d_name);
    }
    closedir(d);
    if (!best[0])
        return -1;
    snprintf(out, outlen, "/dev/%s", best);
    return 0;
}

static int open_power_buttons(struct pollfd *fds)
{
    int n = 0, i;
    for (i = 0; i < 32 && n < MAX_INPUTS; i++) {
        char path[64];
        int fd;
        snprintf(path, sizeof(path), "/dev/input/event%d", i);
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        fds[n].fd = fd;
        fds[n].events = POLLIN;
        n++;
    }
    return n;
}

/* Wait until `deadline_ns` (0: just poll); 1 when the power button was hit. */
static int wait_events(struct pollfd *fds, int nfds, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t t = now_ns();
        struct timespec ts = {0, 0};
        int i, r;
        if (deadline_ns > t) {
            uint64_t d = deadline_ns - t;
            ts.tv_sec = d / 1000000000ULL;
            ts.tv_nsec = d % 1000000000ULL;
        }
        r = ppoll(fds, nfds, &ts, NULL);
        if (got_signal)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        for (i = 0; r > 0 && i < nfds; i++) {
            struct input_event ev;
            if (!(fds[i].revents & POLLIN))
                continue;
            while (read(fds[i].fd, &ev, sizeof(ev)) == sizeof(ev))
                if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value)
                    return 1;
        }
        if (now_ns() >= deadline_ns)
            return 0;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: volmig-writer --dev PATH|auto|serial:PREFIX --seed N\n"
            "  [--rate BYTES/S (0: as fast as possible)] [--mix SPEC]\n"
            "  [--count N] [--duration S] [--window-ms N] [--max-lag-ms N]\n"
            "  [--wait-dev S] [--align BYTES] [--no-direct]\n"
            "  [--sync-every N (fdatasync after N writes; 0: at the end)]\n"
            "  [--no-power-button]\n");
}

struct window {
    uint64_t idx;
    uint64_t n;
    size_t len;
    char *line;
    size_t cap;
};

static void window_flush(struct window *w)
{
    if (w->n) {
        w->line[w->len++] = '\n';
        fprintf(stdout, "L %" PRIu64 " %" PRIu64 "%.*s", w->idx, w->n,
                (int)w->len, w->line);
        fflush(stdout);
    }
    w->n = 0;
    w->len = 0;
}

static void window_add(struct window *w, uint64_t idx, uint64_t lat_us)
{
    if (idx != w->idx) {
        window_flush(w);
        w->idx = idx;
    }
    if (w->len + 24 > w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->line = realloc(w->line, w->cap);
        if (!w->line) {
            perror("realloc");
            exit(2);
        }
    }
    w->len += sprintf(w->line + w->len, " %" PRIu64, lat_us);
    w->n++;
}

/* Writes issued since the last acknowledgement. */
struct batch {
    uint64_t first;                 /* seq of the first pending write */
    uint64_t n;
    uint64_t last_off, last_len;
    uint64_t issued[MAX_SYNC_EVERY]; /* issue times, for L latencies */
};

/*
 * fdatasync() the pending writes, then acknowledge them: one A line,
 * flushed at once, and their issue-to-ack latencies into the L windows.
 * Returns -1 (and prints E) when the flush failed: nothing acknowledged.
 */
static int acknowledge(int fd, struct batch *b, struct window *w,
                       uint64_t t0, uint64_t window_us, int latencies)
{
    uint64_t done, i;
    if (!b->n)
        return 0;
    if (fdatasync(fd)) {
        printf("E fsync seq=%" PRIu64 " errno=%d\n", b->first + b->n - 1,
               errno);
        fflush(stdout);
        return -1;
    }
    done = now_ns();
    if (latencies)
        for (i = 0; i < b->n; i++)
            window_add(w, (b->issued[i] - t0) / (window_us * 1000),
                       (done - b->issued[i]) / 1000);
    printf("A %" PRIu64 " %" PRIu64 " off=%" PRIu64 " len=%" PRIu64 "\n",
           b->first, b->first + b->n - 1, b->last_off, b->last_len);
    fflush(stdout);
    b->first += b->n;
    b->n = 0;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dev", required_argument, 0, 'd'},
        {"seed", required_argument, 0, 's'},
        {"rate", required_argument, 0, 'r'},
        {"mix", required_argument, 0, 'm'},
        {"count", required_argument, 0, 'c'},
        {"duration", required_argument, 0, 't'},
        {"window-ms", required_argument, 0, 'w'},
        {"max-lag-ms", required_argument, 0, 'l'},
        {"wait-dev", required_argument, 0, 'W'},
        {"align", required_argument, 0, 'a'},
        {"no-direct", no_argument, 0, 'N'},
        {"no-power-button", no_argument, 0, 'P'},
        {"sync-every", required_argument, 0, 'y'},
        {0, 0, 0, 0},
    };
    const char *dev = "auto", *mixspec = "64k";
    char devpath[300];
    uint64_t seed = 1, rate = 0, count = 0, window_us = 100000;
    uint64_t max_lag_ns = 1000000000ULL, align = SECTOR;
    double duration = 0, wait_dev = 30;
    int direct = 1, buttons = 1, c, fd, nfds = 0, status = 0;
    struct pollfd fds[MAX_INPUTS];
    struct mix m;
    uint64_t disk_size, maxsize = 0, seq = 0, bytes = 0, t0, base_t;
    uint64_t base_bytes = 0, fsync_start, sync_every = 1;
    static struct batch pend;
    const char *reason = "count";
    struct window win = {0};
    uint64_t *buf;
    double uptime = -1;
    FILE *f;
    char *end;
    int i;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dev = optarg; break;
        case 's': seed = strtoull(optarg, NULL, 0); break;
        case 'r': rate = parse_size(optarg, &end); break;
        case 'm': mixspec = optarg; break;
        case 'c': count = strtoull(optarg, NULL, 10); break;
        case 't': duration = atof(optarg); break;
        case 'w': window_us = strtoull(optarg, NULL, 10) * 1000; break;
        case 'l': max_lag_ns = strtoull(optarg, NULL, 10) * 1000000ULL;
                  break;
        case 'W': wait_dev = atof(optarg); break;
        case 'a': align = parse_size(optarg, &end); break;
        case 'N': direct = 0; break;
        case 'P': buttons = 0; break;
        case 'y': sync_every = strtoull(optarg, NULL, 10); break;
        default: usage(); return 2;
        }
    }
    if (parse_mix(mixspec, &m) || window_us == 0) {
        fprintf(stderr, "volmig-writer: bad --mix %s\n", mixspec);
        return 2;
    }
    if (align == 0 || align % SECTOR) {
        fprintf(stderr, "volmig-writer: --align must be a multiple of "
                "%d\n", SECTOR);
        return 2;
    }
    if (sync_every > MAX_SYNC_EVERY) {
        fprintf(stderr, "volmig-writer: --sync-every at most %d\n",
                MAX_SYNC_EVERY);
        return 2;
    }
    for (i = 0; i < m.n; i++)
        if (m.size[i] > maxsize)
            maxsize = m.size[i];

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (buttons)
        nfds = open_power_buttons(fds);

    /* Wait for the disk: it may be hot-plugged after boot. */
    if (!strcmp(dev, "auto") || !strncmp(dev, "serial:", 7)) {
        const char *serial = strcmp(dev, "auto") ? dev + 7 : NULL;
        uint64_t give_up = now_ns() + (uint64_t)(wait_dev * 1e9);
        while (find_disk(serial, devpath, sizeof(devpath))) {
            if (now_ns() > give_up || got_signal) {
                fprintf(stderr, "volmig-writer: no disk %s\n", dev);
                return 3;
            }
            if (wait_events(fds, nfds, now_ns() + 100000000ULL)) {
                printf("D count=0 bytes=0 fsync_us=0 reason=power-button "
                       "status=ok\n");
                return 0;
            }
        }
    } else {
        snprintf(devpath, sizeof(devpath), "%s", dev);
    }
    fd = open(devpath, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (fd < 0) {
        fprintf(stderr, "volmig-writer: open %s: %s\n", devpath,
                strerror(errno));
        return 3;
    }
    {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode)) {
            if (ioctl(fd, BLKGETSIZE64, &disk_size)) {
                perror("BLKGETSIZE64");
                return 3;
            }
        } else {
            disk_size = (uint64_t)st.st_size;
        }
    }
    disk_size -= disk_size % SECTOR;
    if (disk_size < maxsize) {
        fprintf(stderr, "volmig-writer: disk of %" PRIu64 " bytes is "
                "smaller than a %" PRIu64 "-byte write\n", disk_size,
                maxsize);
        return 3;
    }
    if (posix_memalign((void **)&buf, SECTOR, maxsize)) {
        perror("posix_memalign");
        return 3;
    }
    f = fopen("/proc/uptime", "r");
    if (f) {
        if (fscanf(f, "%lf", &uptime) != 1)
            uptime = -1;
        fclose(f);
    }

    printf("H volmig-writer 2 dev=%s size=%" PRIu64 " seed=%" PRIu64
           " rate=%" PRIu64 " mix=", devpath, disk_size, seed, rate);
    for (i = 0; i < m.n; i++)
        printf("%s%" PRIu64 ":%" PRIu64, i ? "," : "", m.size[i],
               m.cum[i] - (i ? m.cum[i - 1] : 0));
    printf(" window_us=%" PRIu64 " align=%" PRIu64 " uptime_ms=%.0f"
           " sync_every=%" PRIu64 "\n", window_us, align, uptime * 1000,
           sync_every);
    t0 = base_t = now_ns();
    printf("S t0_us=%" PRIu64 "\n", t0 / 1000);
    fflush(stdout);

    for (;;) {
        uint64_t r, size, nslots, off, issue, done, due;
        ssize_t n;
        if (count && seq >= count) { reason = "count"; break; }
        if (got_signal) { reason = "signal"; break; }
        if (duration > 0 && now_ns() - t0 >= (uint64_t)(duration * 1e9)) {
            reason = "duration";
            break;
        }
        r = draw(seed, 2 * seq) % m.cum[m.n - 1];
        for (i = 0; r >= m.cum[i]; i++)
            ;
        size = m.size[i];
        nslots = (disk_size - size) / align + 1;
        off = (draw(seed, 2 * seq + 1) % nslots) * align;
        fill(buf, size, seed, seq, off);

        if (rate) {
            due = base_t + (uint64_t)((unsigned __int128)(bytes - base_bytes)
                                      * 1000000000ULL / rate);
            /* Acknowledge before sleeping: an ack never waits for idle. */
            if (sync_every && pend.n && due > now_ns() &&
                acknowledge(fd, &pend, &win, t0, window_us, 1)) {
                reason = "error";
                status = 1;
                break;
            }
            if (wait_events(fds, nfds, due)) {
                reason = "power-button";
                break;
            }
            if (got_signal) { reason = "signal"; break; }
            issue = now_ns();
            if (issue > due + max_lag_ns) {
                printf("G %" PRIu64 " %" PRIu64 "\n", seq,
                       (issue - due) / 1000);
                base_t = issue;
                base_bytes = bytes;
            }
        } else {
            if (nfds && wait_events(fds, nfds, 0)) {
                reason = "power-button";
                break;
            }
            issue = now_ns();
        }
        n = pwrite(fd, buf, size, (off_t)off);
        done = now_ns();
        if (n != (ssize_t)size) {
            printf("E seq=%" PRIu64 " errno=%d\n", seq,
                   n < 0 ? errno : EIO);
            reason = "error";
            status = 1;
            break;
        }
        if (sync_every)
            pend.issued[pend.n] = issue;
        else
            window_add(&win, (issue - t0) / (window_us * 1000),
                       (done - issue) / 1000);
        pend.n++;
        pend.last_off = off;
        pend.last_len = size;
        seq++;
        bytes += size;
        if (sync_every && pend.n >= sync_every &&
            acknowledge(fd, &pend, &win, t0, window_us, 1)) {
            reason = "error";
            status = 1;
            break;
        }
    }
    /* What is still pending (a partial batch, or all of --sync-every 0). */
    if (!status && acknowledge(fd, &pend, &win, t0, window_us,
                               sync_every != 0))
        status = 1;
    window_flush(&win);
    fsync_start = now_ns();
    if (fsync(fd)) {
        printf("E fsync errno=%d\n", errno);
        status = 1;
    }
    printf("D count=%" PRIu64 " bytes=%" PRIu64 " fsync_us=%" PRIu64
           " reason=%s status=%s\n", seq, bytes,
           (now_ns() - fsync_start) / 1000, reason, status ? "error" : "ok");
    fflush(stdout);
    close(fd);
    return status;
}
