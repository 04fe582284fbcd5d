// The parts of libmodbus that Swift cannot import directly: macros that expand to
// expressions (the exception errno values) and variadic calls. Everything is static inline,
// so this system-library target needs no compiled C of its own.
#ifndef FIREWATCH_CMODBUS_SHIM_H
#define FIREWATCH_CMODBUS_SHIM_H

#include <modbus/modbus.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>

/// libmodbus reports Modbus exceptions as errno values above MODBUS_ENOBASE.
static inline int fw_modbus_enobase(void) { return MODBUS_ENOBASE; }
static inline int fw_embxilfun(void) { return EMBXILFUN; }
static inline int fw_embxiladd(void) { return EMBXILADD; }
static inline int fw_embxilval(void) { return EMBXILVAL; }
static inline int fw_embxsfail(void) { return EMBXSFAIL; }
static inline int fw_embxack(void) { return EMBXACK; }
static inline int fw_embxsbusy(void) { return EMBXSBUSY; }
static inline int fw_embxnack(void) { return EMBXNACK; }
static inline int fw_embxmempar(void) { return EMBXMEMPAR; }
static inline int fw_embxgpath(void) { return EMBXGPATH; }
static inline int fw_embxgtar(void) { return EMBXGTAR; }
static inline int fw_embbadcrc(void) { return EMBBADCRC; }
static inline int fw_embbaddata(void) { return EMBBADDATA; }
static inline int fw_embbadexc(void) { return EMBBADEXC; }
static inline int fw_embunkexc(void) { return EMBUNKEXC; }
static inline int fw_embmdata(void) { return EMBMDATA; }
static inline int fw_embbadslave(void) { return EMBBADSLAVE; }

/// errno of the calling thread, read right after a libmodbus call on the same thread.
static inline int fw_errno(void) { return errno; }
static inline void fw_clear_errno(void) { errno = 0; }

/// Version of the libmodbus the process actually loaded (not the headers it was built with).
static inline const char *fw_modbus_version(void) { return LIBMODBUS_VERSION_STRING; }

/// libmodbus 3.1.6 waits for answers with select(): a socket at or above FD_SETSIZE would overflow its fd_set,
/// so the Swift client lends libmodbus a low descriptor number for such sockets (see IOPool).
static inline int fw_fd_setsize(void) { return FD_SETSIZE; }

/// The lowest free descriptor at or above 0, as a close-on-exec duplicate of `fd` (-1 with errno on failure).
static inline int fw_dup_lowest(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

/// Opens /dev/null read-write, close-on-exec (open is variadic).
static inline int fw_open_null(void) { return open("/dev/null", O_RDWR | O_CLOEXEC); }

/// Connects a non-blocking, close-on-exec TCP socket to `host` (name, IPv4 or IPv6) and `service`, trying
/// every address getaddrinfo gives, each within `timeout_ms`. Nagle is off, as libmodbus sets it.
/// Returns the fd; or -1 with errno set (ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH…); or -1 with `*gai_error`
/// set when the name does not resolve. Unlike libmodbus 3.1.6's connect, it waits with poll(), so any
/// descriptor number is safe, and it keeps the real reason of a failure.
static inline int fw_tcp_connect(const char *host, const char *service, int timeout_ms, int *gai_error) {
    struct addrinfo hints, *list = NULL, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
#ifdef AI_ADDRCONFIG
    hints.ai_flags = AI_ADDRCONFIG;
#endif
    *gai_error = getaddrinfo(host, service, &hints, &list);
    if (*gai_error != 0) { errno = 0; return -1; }
    int last = ECONNREFUSED;
    for (ai = list; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { last = errno; continue; }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd p = { fd, POLLOUT, 0 };
            do { rc = poll(&p, 1, timeout_ms); } while (rc < 0 && errno == EINTR);
            if (rc == 0) { last = ETIMEDOUT; close(fd); continue; }
            if (rc < 0) { last = errno; close(fd); continue; }
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            if (err != 0) { last = err; close(fd); continue; }
        } else if (rc < 0) {
            last = errno; close(fd); continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        freeaddrinfo(list);
        return fd;
    }
    freeaddrinfo(list);
    errno = last;
    return -1;
}

/// Puts a socket in non-blocking, close-on-exec mode (fcntl is variadic, so Swift cannot call it portably).
static inline int fw_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/// Whether `host` is a numeric loopback address (127.0.0.0/8 or ::1).
static inline int fw_is_loopback(const char *host) {
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, host, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1) return memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
    return 0;
}

/// A non-blocking listening TCP socket on a numeric address; port 0 picks a free port, reported in
/// `*bound_port`. Returns the fd, or -1 with errno set (EINVAL when the address is not numeric).
static inline int fw_tcp_listen(const char *host, int port, int backlog, int *bound_port) {
    struct addrinfo hints, *ai = NULL;
    char service[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0 || ai == NULL) { errno = EINVAL; return -1; }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0) { int e = errno; freeaddrinfo(ai); errno = e; return -1; }
    int one = 1;
    /* A restarted server must be able to take its port back while old connections sit in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0 || fw_set_nonblocking(fd) < 0) {
        int e = errno; close(fd); freeaddrinfo(ai); errno = e; return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &len) < 0) { int e = errno; close(fd); errno = e; return -1; }
    *bound_port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

/// Accepts one connection as a non-blocking, close-on-exec socket with Nagle off. -1 with errno when none.
static inline int fw_tcp_accept(int listen_fd) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) return -1;
    if (fw_set_nonblocking(fd) < 0) { int e = errno; close(fd); errno = e; return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/// send() without SIGPIPE on a peer that went away (EPIPE is still returned).
static inline long fw_send(int fd, const void *buf, unsigned long len) {
    return (long)send(fd, buf, len, MSG_NOSIGNAL);
}

/// A blocking TCP connection to 127.0.0.1:port (tests use it to send raw bytes). -1 with errno on failure.
static inline int fw_tcp_connect_loopback(int port) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

/// Socket receive buffer size (tests shrink it to make a client that never reads fill up quickly).
static inline int fw_set_rcvbuf(int fd, int bytes) {
    return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

/// Receive timeout for a blocking socket, so a test's read can never hang.
static inline int fw_set_recv_timeout(int fd, int milliseconds) {
    struct timeval tv = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

#endif
