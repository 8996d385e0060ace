/* One-shot digests through OpenSSL's low-level functions: no context to allocate, safe from any
 * thread. mw_hash_init checks once that the default provider has the digests; call it before
 * starting threads. */
#ifndef MW_HASH_H
#define MW_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool mw_hash_init(void);
void mw_hash_cleanup(void);
/* Kept for threads that call it before they end: there is no per-thread state any more. */
void mw_hash_thread_cleanup(void);
void mw_sha256(const void *data, size_t len, uint8_t out[32]);
void mw_md5(const void *data, size_t len, uint8_t out[16]);
/* For Community ID (mw_community_id.h), not for anything that needs collision resistance. */
void mw_sha1(const void *data, size_t len, uint8_t out[20]);

#endif
