/* The text view for people (-o text:PATH): one line an alert, like Suricata's fast.log, and with
 * handshakes=1 one line a handshake. Internal to the out_ module and its tests. */
#ifndef OUT_TEXT_H
#define OUT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "out.h"

#define OUT_TEXT_LINE_MAX 2048

/* Writes the line of ev (without newline) into line[cap] and returns its length; returns 0 when
 * the event has no line for this sink (metrics, other events, handshakes without handshakes=1,
 * an event that is not a JSON object). A line longer than cap ends in "...". */
size_t out_text_line(const out_sink_cfg *c, const out_event *ev, char *line, size_t cap);

#endif
