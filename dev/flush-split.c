// How much of an fdatasync is the data write, and how much the disk's cache flush: appends
// 20 KiB (about one group commit's WAL frames) and fdatasyncs it, N times, with `work_us` of
// busy work between the write and the fdatasync; with mode 1, sync_file_range starts the
// write-back right after the write, so the work overlaps it. docs/PERFORMANCE.md, sixteenth stop.
//
//   cc -O2 -o /tmp/flush-split dev/flush-split.c
//   /tmp/flush-split 0 2000 170 FILE; /tmp/flush-split 1 2000 170 FILE   (FILE on the disk to test)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void spin_us(double us) {
    double end = now_us() + us;
    while (now_us() < end) {}
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODE(0|1) COUNT WORK_US FILE\n", argv[0]);
        return 2;
    }
    int mode = atoi(argv[1]), count = atoi(argv[2]);
    double work = atof(argv[3]);
    int fd = open(argv[4], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    static char block[20 * 1024];
    memset(block, 'x', sizeof block);
    off_t offset = 0;
    double synced = 0, start = now_us();
    for (int i = 0; i < count; i++) {
        if (pwrite(fd, block, sizeof block, offset) != (ssize_t)sizeof block) { perror("pwrite"); return 1; }
        if (mode == 1) sync_file_range(fd, offset, sizeof block, SYNC_FILE_RANGE_WRITE);
        offset = offset + (off_t)sizeof block > 4 << 20 ? 0 : offset + (off_t)sizeof block;
        spin_us(work);
        double before = now_us();
        if (fdatasync(fd) != 0) { perror("fdatasync"); return 1; }
        synced += now_us() - before;
    }
    printf("mode %d: fdatasync %.1f us on average, cycle %.1f us\n", mode, synced / count, (now_us() - start) / count);
    close(fd);
    unlink(argv[4]);
    return 0;
}
