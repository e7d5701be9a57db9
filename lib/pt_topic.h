/*
 * pt_topic.h: MQTT topic names and topic filters checked the way the
 * broker will judge them (MQTT 3.1.1 section 4.7, and mosquitto's own
 * checks), so a bad --topic is a usage error at start instead of a
 * subscribe or publish that fails, and is retried, for ever.
 */
#ifndef PT_TOPIC_H
#define PT_TOPIC_H

#include <stddef.h>

#define PT_TOPIC_MAX    65535   /* bytes: MQTT's two-byte length */

/*
 * Check s as a topic name to publish on (filter == 0: no wildcards) or as
 * a topic filter to subscribe to (filter != 0: '+' only as a whole level,
 * '#' only as the whole last level). Both: 1..PT_TOPIC_MAX bytes of
 * well-formed UTF-8 without control characters (U+0001..U+001F,
 * U+007F..U+009F: mosquitto refuses them). Empty levels ("a//b", "/a")
 * are valid MQTT. Returns 0, or -EINVAL with the reason in why (e.g.
 * "'#' must be the last level"); s may not be NULL.
 */
int pt_topic_check(const char *s, int filter, char *why, size_t cap);

#endif
