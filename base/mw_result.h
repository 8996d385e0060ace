/* Result convention shared by every parser (STYLE.md rule 3).
 *
 * Parsers return mw_rc and are marked MW_WUR so that a caller cannot drop a status.
 * MW_NEED_MORE means "the bytes so far are a valid prefix", distinct from MW_MALFORMED.
 * The GUARD/ENSURE set is deliberately tiny:
 *   MW_ENSURE(cond, rc)  return rc unless cond holds
 *   MW_GUARD(expr)       evaluate a call returning mw_rc, return its status unless MW_OK
 *   MW_GUARD_B(expr, rc) evaluate a bool call (cursor reads), return rc when false
 */
#ifndef MW_RESULT_H
#define MW_RESULT_H

typedef enum {
    MW_OK = 0,
    MW_NEED_MORE = 1,
    MW_MALFORMED = 2,
    MW_ERR = 3, /* internal: allocation failure, cap reached, library error */
} mw_rc;

#define MW_WUR __attribute__((warn_unused_result))

#define MW_ENSURE(cond, rc)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return (rc);                                                                           \
    } while (0)

#define MW_GUARD(expr)                                                                             \
    do {                                                                                           \
        mw_rc mw_guard_rc_ = (expr);                                                               \
        if (mw_guard_rc_ != MW_OK)                                                                 \
            return mw_guard_rc_;                                                                   \
    } while (0)

#define MW_GUARD_B(expr, rc) MW_ENSURE((expr), (rc))

#define MW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
