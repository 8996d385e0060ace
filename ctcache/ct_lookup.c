#include "ct_lookup.h"

#define CT_DEFAULT_MMD_S 86400

ct_check ct_check_cert(const ct_snapshot *s, const x509_info *xi, uint64_t mmd_s) {
    if (!s) return CT_CHECK_NO_SNAPSHOT;
    int64_t issued = xi->not_before;
    for (int i = 0; xi->scts && i < sk_SCT_num(xi->scts); i++) {
        int64_t t = (int64_t)(SCT_get_timestamp(sk_SCT_value(xi->scts, i)) / 1000);
        if (t > issued) issued = t;
    }
    if (mmd_s == 0) mmd_s = ct_snapshot_max_mmd(s, CT_DEFAULT_MMD_S);
    return ct_snapshot_check(s, xi->tbs_sha256, issued, mmd_s);
}

const char *ct_check_name(ct_check c) {
    switch (c) {
    case CT_CHECK_LOGGED:
        return "logged";
    case CT_CHECK_NOT_IN_CT:
        return "not_in_ct";
    case CT_CHECK_GRACE:
        return "grace";
    case CT_CHECK_NO_SNAPSHOT:
        return "no_snapshot";
    }
    return "?";
}
