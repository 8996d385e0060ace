/* Minimal unit-test helpers: each check prints what differed; main returns the failure count
 * through MW_TEST_END so ctest sees a non-zero exit. */
#ifndef MW_TEST_H
#define MW_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int mw_t_fail, mw_t_pass;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond)                                                                                  \
            mw_t_pass++;                                                                           \
        else {                                                                                     \
            mw_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                           \
    do {                                                                                           \
        uint64_t mw_a_ = (uint64_t)(a), mw_b_ = (uint64_t)(b);                                     \
        if (mw_a_ == mw_b_)                                                                        \
            mw_t_pass++;                                                                           \
        else {                                                                                     \
            mw_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: %s == %" PRIu64 ", expected %s == %" PRIu64 "\n", __FILE__,   \
                    __LINE__, #a, mw_a_, #b, mw_b_);                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *mw_a_ = (a), *mw_b_ = (b);                                                     \
        if (mw_a_ && mw_b_ && strcmp(mw_a_, mw_b_) == 0)                                           \
            mw_t_pass++;                                                                           \
        else {                                                                                     \
            mw_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: %s\n   got: %s\n  want: %s\n", __FILE__, __LINE__, #a,         \
                    mw_a_ ? mw_a_ : "(null)", mw_b_ ? mw_b_ : "(null)");                           \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define MW_TEST_END()                                                                              \
    do {                                                                                           \
        printf("%d passed, %d failed\n", mw_t_pass, mw_t_fail);                                    \
        return mw_t_fail ? 1 : 0;                                                                  \
    } while (0)

#endif
