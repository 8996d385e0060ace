/* One-shot digests through OpenSSL with the EVP_MD fetched once (an implicit fetch per call
 * costs more than hashing a ClientHello). Not thread-safe to initialise: call mw_hash_init
 * before starting threads. */
#ifndef MW_HASH_H
#define MW_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool mw_hash_init(void);
void mw_hash_cleanup(void);
/* Frees the calling thread's digest contexts; every thread that hashed calls it before it
 * ends (mw_hash_cleanup does it for the main thread). */
void mw_hash_thread_cleanup(void);
void mw_sha256(const void *data, size_t len, uint8_t out[32]);
void mw_md5(const void *data, size_t len, uint8_t out[16]);
/* For Community ID (mw_community_id.h), not for anything that needs collision resistance. */
void mw_sha1(const void *data, size_t len, uint8_t out[20]);

#endif
