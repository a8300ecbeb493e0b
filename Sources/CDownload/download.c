// Downloads with libcurl's easy API, in C because curl_easy_setopt is variadic.

#include "CDownload.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct transfer {
    int fd;
    long long received, cap;
    int (*should_stop)(void *);
    void *context;
    int reason;
    int write_errno;
};

static size_t on_data(char *data, size_t size, size_t count, void *user) {
    struct transfer *transfer = user;
    size_t bytes = size * count;
    transfer->received += (long long)bytes;
    if (transfer->received > transfer->cap) { transfer->reason = RUNNER_GET_TOO_LARGE; return 0; }
    size_t done = 0;
    while (done < bytes) {
        ssize_t written = write(transfer->fd, data + done, bytes - done);
        if (written < 0) {
            if (errno == EINTR) continue;
            transfer->reason = RUNNER_GET_WRITE_FAILED;
            transfer->write_errno = errno;
            return 0;
        }
        done += (size_t)written;
    }
    return bytes;
}

static int on_progress(void *user, curl_off_t total, curl_off_t now, curl_off_t upload_total, curl_off_t upload_now) {
    (void)total; (void)now; (void)upload_total; (void)upload_now;
    struct transfer *transfer = user;
    if (transfer->should_stop && transfer->should_stop(transfer->context)) { transfer->reason = RUNNER_GET_STOPPED; return 1; }
    return 0;
}

int runner_http_get(const char *url, int fd, long long cap, int (*should_stop)(void *), void *context,
                    long long *received, long *http_status, int *write_errno, char *error, size_t error_size) {
    struct transfer transfer = { fd, 0, cap, should_stop, context, RUNNER_GET_OK, 0 };
    char message[CURL_ERROR_SIZE] = "";
    CURL *curl = curl_easy_init();
    if (!curl) { snprintf(error, error_size, "libcurl could not start"); return RUNNER_GET_FAILED; }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "runner");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, message);
    CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_status);
    curl_easy_cleanup(curl);
    *received = transfer.received;
    *write_errno = transfer.write_errno;
    if (transfer.reason != RUNNER_GET_OK) return transfer.reason;
    if (code != CURLE_OK) {
        snprintf(error, error_size, "%s", message[0] ? message : curl_easy_strerror(code));
        return RUNNER_GET_FAILED;
    }
    return RUNNER_GET_OK;
}
