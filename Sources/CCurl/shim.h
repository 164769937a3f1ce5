#ifndef PAGERDUTY_PUBLISHER_CCURL_SHIM_H
#define PAGERDUTY_PUBLISHER_CCURL_SHIM_H
#include <curl/curl.h>

/*
 * curl_easy_setopt and curl_easy_getinfo are variadic C functions, which Swift cannot call. These typed,
 * non-variadic wrappers make each argument type explicit. Everything here is a thin pass-through.
 */

/* Initialises libcurl's global state (TLS library included). Call once per process. */
static inline CURLcode pdp_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

static inline CURLcode pdp_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode pdp_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/* libcurl copies string options, so `value` only has to live for the duration of the call. */
static inline CURLcode pdp_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode pdp_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode pdp_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

/* For CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION, which share one signature. */
static inline CURLcode pdp_curl_setopt_write_callback(CURL *handle, CURLoption option, curl_write_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

/* Installs a transfer-progress callback (returning non-zero aborts the transfer) and enables it. */
static inline CURLcode pdp_curl_set_progress_callback(CURL *handle, curl_xferinfo_callback callback, void *data) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
    if (code != CURLE_OK) return code;
    code = curl_easy_setopt(handle, CURLOPT_XFERINFODATA, data);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

/* Requires TLS 1.2 or later for https. */
static inline CURLcode pdp_curl_require_tls12(CURL *handle) {
    return curl_easy_setopt(handle, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

/* Allows only http and https, for the request and for any redirect. */
static inline CURLcode pdp_curl_allow_only_http_protocols(CURL *handle) {
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 added the string forms */
    CURLcode code = curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    CURLcode code = curl_easy_setopt(handle, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

static inline CURLcode pdp_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
