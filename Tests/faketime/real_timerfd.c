/* libfaketime 0.9.10 shifts every TFD_TIMER_ABSTIME timerfd by its offset, whatever the timer's clock, so a
 * process under it sleeps an hour late after a one-hour step back of the *wall* clock even on CLOCK_MONOTONIC.
 * A real kernel never does that; preloaded before libfaketime, this passes timerfd_settime straight through. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

int timerfd_settime(int fd, int flags, const struct itimerspec *new_value, struct itimerspec *old_value) {
    return (int)syscall(SYS_timerfd_settime, fd, flags, new_value, old_value);
}
