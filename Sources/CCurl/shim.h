#ifndef PAGERDUTY_PUBLISHER_CCURL_SHIM_H
#define PAGERDUTY_PUBLISHER_CCURL_SHIM_H
#include <curl/curl.h>
#endif
