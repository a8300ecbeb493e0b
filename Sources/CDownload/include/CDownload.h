#ifndef RUNNER_CDOWNLOAD_H
#define RUNNER_CDOWNLOAD_H

#include <stddef.h>

enum {
    RUNNER_GET_OK = 0,
    RUNNER_GET_TOO_LARGE = 1,    // more than `cap` bytes arrived (the transfer was cut there)
    RUNNER_GET_STOPPED = 2,      // should_stop answered non-zero
    RUNNER_GET_WRITE_FAILED = 3, // writing to `fd` failed; errno in *write_errno
    RUNNER_GET_FAILED = 4,       // libcurl's error (network, TLS, timeout, HTTP status >= 400)
};

/// GETs an http(s) URL into the open file `fd` as the body arrives (libcurl's write callback:
/// memory stays bounded whatever the server sends). Follows up to 5 redirects, http(s) only.
/// Gives up after 30 s without a connection or 60 s below 1 byte/s. `should_stop(context)` is
/// asked at least once a second. Returns one of the codes above; `received` counts body bytes,
/// `http_status` is the last response's status, `error` holds libcurl's message.
int runner_http_get(const char *url, int fd, long long cap, int (*should_stop)(void *), void *context,
                    long long *received, long *http_status, int *write_errno, char *error, size_t error_size);

#endif
