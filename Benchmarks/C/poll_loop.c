/* The raw limit: a plain C loop over libmodbus, one connection, reads of N holding registers back to back.
 * Usage: poll_loop PORT REGISTERS SECONDS WARMUP
 * Prints {"requests":…,"wall_s":…,"cpu_s":…} over the measured part, like the Swift and Python loops. */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now_monotonic(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s PORT REGISTERS SECONDS WARMUP\n", argv[0]);
        return 64;
    }
    int registers = atoi(argv[2]);
    double seconds = atof(argv[3]);
    int warmup = atoi(argv[4]);
    uint16_t values[125];
    if (registers < 1 || registers > 125) return 64;

    modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
    if (ctx == NULL || modbus_connect(ctx) != 0) {
        fprintf(stderr, "connect: %s\n", modbus_strerror(errno));
        return 69;
    }
    modbus_set_slave(ctx, 1);
    for (int i = 0; i < warmup; i++) {
        if (modbus_read_registers(ctx, 0, registers, values) != registers) goto failed;
    }
    double wall0 = now_monotonic(), cpu0 = cpu_seconds();
    double deadline = wall0 + seconds;
    long requests = 0;
    unsigned long checksum = 0;
    for (;;) {
        if (modbus_read_registers(ctx, 0, registers, values) != registers) goto failed;
        checksum += values[registers - 1];
        requests++;
        if ((requests & 63) == 0 && now_monotonic() >= deadline) break;
    }
    double wall1 = now_monotonic(), cpu1 = cpu_seconds();
    printf("{\"requests\":%ld,\"wall_s\":%.6f,\"cpu_s\":%.6f,\"checksum\":%lu}\n", requests, wall1 - wall0,
           cpu1 - cpu0, checksum);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
failed:
    fprintf(stderr, "read: %s\n", modbus_strerror(errno));
    return 1;
}
