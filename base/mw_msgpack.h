/* A structural pass over msgpack bytes before msgpack-c sees them. msgpack-c allocates room
 * for a container's declared count up front, so a few bytes declaring 2^32 entries would cost
 * gigabytes (the state file's fuzz target found it). Here every pending item must still have
 * at least one byte left, which bounds the decoded tree by the input's size. */
#ifndef MW_MSGPACK_H
#define MW_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length of the first msgpack document in data, 0 when there is none: *truncated (may be
 * NULL) tells whether the bytes ended before the document did, or declared more items than
 * bytes remain, rather than holding a byte msgpack never uses. */
size_t mw_msgpack_shape(const uint8_t *data, size_t len, bool *truncated);

#endif
