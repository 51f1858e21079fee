#define _GNU_SOURCE
#include "CPosix.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Fills `storage` with `host` (an IPv4 or IPv6 literal) and `port`; returns the family, or -EINVAL.
static int make_address(const char *host, int port, struct sockaddr_storage *storage, socklen_t *length) {
    memset(storage, 0, sizeof *storage);
    struct sockaddr_in *v4 = (struct sockaddr_in *)storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)storage;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons((uint16_t)port); *length = sizeof *v4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons((uint16_t)port); *length = sizeof *v6;
        return AF_INET6;
    }
    return -EINVAL;
}

int cposix_listen_tcp(const char *host, int port, int backlog, int reuse_port, int *bound_port) {
    struct sockaddr_storage storage;
    socklen_t length;
    if (port < 0 || port > 65535) return -EINVAL;
    int family = make_address(host, port, &storage, &length);
    if (family < 0) return family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) goto fail;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) goto fail;
    if (bind(fd, (struct sockaddr *)&storage, length) != 0) goto fail;
    if (listen(fd, backlog) != 0) goto fail;
    if (getsockname(fd, (struct sockaddr *)&storage, &length) != 0) goto fail;
    *bound_port = family == AF_INET ? ntohs(((struct sockaddr_in *)&storage)->sin_port)
                                    : ntohs(((struct sockaddr_in6 *)&storage)->sin6_port);
    return fd;
fail:;
    int saved = errno;
    close(fd);
    return -saved;
}

int cposix_connect_tcp(const char *host, int port, int timeout_ms) {
    struct sockaddr_storage storage;
    socklen_t length;
    if (port <= 0 || port > 65535 || timeout_ms <= 0) return -EINVAL;
    int family = make_address(host, port, &storage, &length);
    if (family < 0) return family;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct timeval timeout = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0) goto fail;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) goto fail;
    // With SO_SNDTIMEO set, a blocking connect gives up after the timeout (EINPROGRESS).
    while (connect(fd, (struct sockaddr *)&storage, length) != 0) {
        if (errno == EINTR) continue;
        if (errno == EINPROGRESS) errno = ETIMEDOUT;
        goto fail;
    }
    return fd;
fail:;
    int saved = errno;
    close(fd);
    return -saved;
}

int cposix_accept(int listen_fd) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return -errno;
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

int cposix_peer_address(int fd, char *buffer, size_t size) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof storage;
    if (getpeername(fd, (struct sockaddr *)&storage, &length) != 0) return -errno;
    const void *address = storage.ss_family == AF_INET ? (const void *)&((struct sockaddr_in *)&storage)->sin_addr
                                                        : (const void *)&((struct sockaddr_in6 *)&storage)->sin6_addr;
    if (inet_ntop(storage.ss_family, address, buffer, (socklen_t)size) == NULL) return -errno;
    return 0;
}

int cposix_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cposix_epoll_ctl(int epoll_fd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = events;
    event.data.u64 = token;
    int real_op = op == 1 ? EPOLL_CTL_ADD : op == 2 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    return epoll_ctl(epoll_fd, real_op, fd, &event) == 0 ? 0 : -errno;
}

int cposix_epoll_wait(int epoll_fd, uint64_t *tokens, uint32_t *events, int max_events, int timeout_ms) {
    struct epoll_event buffer[256];
    if (max_events > 256) max_events = 256;
    int count = epoll_wait(epoll_fd, buffer, max_events, timeout_ms);
    if (count < 0) return -errno;
    for (int i = 0; i < count; i++) {
        tokens[i] = buffer[i].data.u64;
        events[i] = buffer[i].events;
    }
    return count;
}

int cposix_eventfd(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cposix_eventfd_signal(int fd) {
    uint64_t one = 1;
    return write(fd, &one, sizeof one) == sizeof one ? 0 : -errno;
}

int cposix_eventfd_drain(int fd) {
    uint64_t value;
    return read(fd, &value, sizeof value) == sizeof value ? 0 : -errno;
}

ssize_t cposix_read(int fd, void *buffer, size_t count) {
    ssize_t n = read(fd, buffer, count);
    return n < 0 ? -errno : n;
}

ssize_t cposix_send(int fd, const void *buffer, size_t count) {
    ssize_t n = send(fd, buffer, count, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
}

int cposix_shutdown_write(int fd) { return shutdown(fd, SHUT_WR) == 0 ? 0 : -errno; }

int cposix_close(int fd) { return close(fd) == 0 ? 0 : -errno; }

int cposix_open_reserve(void) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void cposix_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/// The eventfd the shutdown-signal handler adds to (-1 until cposix_catch_shutdown_signals).
static int shutdown_signal_fd = -1;

/// Async-signal-safe: one write(2) to an eventfd, errno kept for the interrupted code.
static void on_shutdown_signal(int number) {
    (void)number;
    int saved = errno;
    uint64_t one = 1;
    ssize_t written = write(shutdown_signal_fd, &one, sizeof one);
    (void)written;  // EAGAIN only when the counter is saturated: a signal is pending anyway
    errno = saved;
}

int cposix_catch_shutdown_signals(void) {
    int fd = eventfd(0, EFD_CLOEXEC);
    if (fd < 0) return -errno;
    shutdown_signal_fd = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_shutdown_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0) return -errno;
    return fd;
}

int cposix_mask_shutdown_signals(int block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return -pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

int cposix_wait_shutdown_signal(int fd) {
    uint64_t count = 0;
    for (;;) {
        if (read(fd, &count, sizeof count) == sizeof count) return 0;
        if (errno != EINTR) return -errno;
    }
}

int cposix_thread_id(void) { return (int)syscall(SYS_gettid); }

int cposix_set_thread_name(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    return -pthread_setname_np(pthread_self(), short_name);
}

uint32_t cposix_epollin(void) { return EPOLLIN; }
uint32_t cposix_epollout(void) { return EPOLLOUT; }
uint32_t cposix_epollrdhup(void) { return EPOLLRDHUP; }
uint32_t cposix_epollhup(void) { return EPOLLHUP; }
uint32_t cposix_epollerr(void) { return EPOLLERR; }
int cposix_eagain(void) { return EAGAIN; }
int cposix_eintr(void) { return EINTR; }
int cposix_emfile(void) { return EMFILE; }
int cposix_enfile(void) { return ENFILE; }
int cposix_ebadf(void) { return EBADF; }
int cposix_efault(void) { return EFAULT; }

int cposix_spawn_with_stderr_pipe(const char *path, char *const argv[], char *const envp[], int *pid, int *error_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    posix_spawn_file_actions_t actions;
    int result = posix_spawn_file_actions_init(&actions);
    if (result == 0) result = posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    // The child starts with no signal blocked (the spawning thread blocks SIGTERM/SIGINT: they
    // are taken by the signal thread) and with SIGTERM/SIGINT at their defaults.
    posix_spawnattr_t attributes;
    int attributes_made = result == 0 && (result = posix_spawnattr_init(&attributes)) == 0;
    if (result == 0) {
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGTERM);
        sigaddset(&defaults, SIGINT);
        sigaddset(&defaults, SIGPIPE);
        result = posix_spawnattr_setsigmask(&attributes, &none);
        if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &defaults);
        if (result == 0) result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
    pid_t child = 0;
    if (result == 0) result = posix_spawn(&child, path, &actions, &attributes, argv, envp);
    if (attributes_made) posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (result != 0) {
        close(fds[0]);
        return -result;
    }
    *pid = (int)child;
    *error_fd = fds[0];
    return 0;
}

int cposix_wait_child(int pid, int *exit_status, int *signal_number) {
    int status = 0;
    while (waitpid((pid_t)pid, &status, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    *signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return 0;
}
