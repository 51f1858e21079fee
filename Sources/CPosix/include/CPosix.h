// C shim for the socket and event syscalls Swift's Glibc module does not expose (accept4, epoll,
// eventfd need _GNU_SOURCE or are missing) and for sockaddr handling, which is simpler and safer
// in C than through pointer rebinding in Swift. Only HTTPServer/Posix imports this module.
// Every function returns -errno on failure (never sets errno for the caller to read late).
#ifndef BOMFLOW_CPOSIX_H
#define BOMFLOW_CPOSIX_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/// Creates a non-blocking, close-on-exec TCP listening socket bound to `host` (an IPv4 or IPv6
/// literal) and `port` (0 picks a free one), with SO_REUSEADDR and, when `reuse_port` is set,
/// SO_REUSEPORT (several listeners, in this or other processes, share the port). Writes the
/// bound port to `bound_port`. Returns the fd, or -errno (-EINVAL for a malformed host).
int cposix_listen_tcp(const char *host, int port, int backlog, int reuse_port, int *bound_port);

/// accept4(SOCK_NONBLOCK | SOCK_CLOEXEC); sets TCP_NODELAY on the new socket. Returns the fd or -errno.
int cposix_accept(int listen_fd);

/// A blocking TCP connection to `host` (an IPv4 or IPv6 literal) and `port`, with TCP_NODELAY and
/// send/receive timeouts of `timeout_ms`: the fd, or -errno (-ETIMEDOUT when connecting takes longer).
int cposix_connect_tcp(const char *host, int port, int timeout_ms);

/// Writes the peer's address of a connected socket as text (IPv4 dotted or IPv6) into `buffer`.
/// Returns 0 or -errno (-ENOSPC when `size` is too small).
int cposix_peer_address(int fd, char *buffer, size_t size);

/// epoll_create1(EPOLL_CLOEXEC). Returns the fd or -errno.
int cposix_epoll_create(void);

/// epoll_ctl with `events` and a 64-bit `token` as the event data. op: 1 add, 2 modify, 3 delete.
/// Returns 0 or -errno.
int cposix_epoll_ctl(int epoll_fd, int op, int fd, uint32_t events, uint64_t token);

/// epoll_wait into two parallel arrays (struct epoll_event is packed on x86_64, which Swift
/// does not import well). Returns the number of events, or -errno (-EINTR included).
int cposix_epoll_wait(int epoll_fd, uint64_t *tokens, uint32_t *events, int max_events, int timeout_ms);

/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC). Returns the fd or -errno.
int cposix_eventfd(void);

/// Adds 1 to an eventfd (wakes its epoll loop). Returns 0 or -errno (-EAGAIN when saturated is fine).
int cposix_eventfd_signal(int fd);

/// Drains an eventfd. Returns 0 or -errno.
int cposix_eventfd_drain(int fd);

/// read(2). Returns bytes read (0 at end of stream) or -errno.
ssize_t cposix_read(int fd, void *buffer, size_t count);

/// send(2) with MSG_NOSIGNAL (a peer that reset never raises SIGPIPE). Returns bytes or -errno.
ssize_t cposix_send(int fd, const void *buffer, size_t count);

/// shutdown(fd, SHUT_WR). Returns 0 or -errno.
int cposix_shutdown_write(int fd);

/// close(2). Returns 0 or -errno.
int cposix_close(int fd);

/// open("/dev/null", O_RDONLY | O_CLOEXEC): the reserve descriptor for EMFILE handling.
int cposix_open_reserve(void);

/// Ignores SIGPIPE for the whole process.
void cposix_ignore_sigpipe(void);

/// Catches SIGTERM and SIGINT from now on (sigaction, in effect when this returns): the handler
/// adds 1 to a blocking eventfd, which cposix_wait_shutdown_signal reads. Call it once per process
/// (Sockets' ShutdownSignals does). Returns the eventfd or -errno.
int cposix_catch_shutdown_signals(void);

/// Blocks (`block` non-zero) or unblocks SIGTERM and SIGINT in the calling thread; threads it
/// starts afterwards inherit that. Returns 0 or -errno.
int cposix_mask_shutdown_signals(int block);

/// Blocks until a shutdown signal was caught since the last call (EINTR resumed). Returns 0 or -errno.
int cposix_wait_shutdown_signal(int fd);

/// The calling thread's kernel thread id (gettid).
int cposix_thread_id(void);

/* Spawns `path` with the NULL-terminated `argv` and `envp`, its stderr the write end of a new
 * pipe whose read end is *error_fd (close-on-exec in the parent); 0 or -errno. */
int cposix_spawn_with_stderr_pipe(const char *path, char *const argv[], char *const envp[], int *pid, int *error_fd);

/* Waits for the child `pid`: its exit status (-1 when it did not exit) and the signal that ended
 * it (0 when none); 0 or -errno. */
int cposix_wait_child(int pid, int *exit_status, int *signal_number);

/* Names the calling thread (its first 15 bytes); 0 or -errno. */
int cposix_set_thread_name(const char *name);

/// Event bits, exported as functions so Swift sees plain values.
uint32_t cposix_epollin(void);
uint32_t cposix_epollout(void);
uint32_t cposix_epollrdhup(void);
uint32_t cposix_epollhup(void);
uint32_t cposix_epollerr(void);

/// errno values the server distinguishes.
int cposix_eagain(void);
int cposix_eintr(void);
int cposix_emfile(void);
int cposix_enfile(void);
int cposix_ebadf(void);
int cposix_efault(void);
#endif
