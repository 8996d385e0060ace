#include "ev_stats.h"

#include "cap_csum.h"

/* One worker's share: what tells a skewed hash or a stalled worker. */
static void worker_json(mw_json *j, const ev_stats_worker *w) {
    mw_json_obj_begin(j);
    mw_json_kuint(j, "packets", w->cs->packets);
    mw_json_kuint(j, "bytes", w->cs->bytes);
    mw_json_kuint(j, "flows_created", w->cs->flows_created);
    mw_json_kuint(j, "flows_active", w->cs->flows_active);
    mw_json_kuint(j, "flows_evicted", w->cs->flows_evicted);
    mw_json_kuint(j, "reassembly_bytes_in_use", w->cs->reasm_bytes_in_use);
    mw_json_kuint(j, "tls_flows", w->as->tls_flows);
    mw_json_kuint(j, "handshakes", w->as->handshakes);
    mw_json_kuint(j, "received", w->cs->pcap_recv);
    mw_json_kuint(j, "dropped", w->cs->pcap_drop);
    mw_json_kuint(j, "if_dropped", w->cs->pcap_ifdrop);
    mw_json_kuint(j, "judge_waits", w->judge_waits);
    mw_json_kuint(j, "ring_waits", w->ring_waits);
    mw_json_kuint(j, "turn_waits", w->turn_waits);
    mw_json_kuint(j, "cpu_ms", w->cpu_ns / 1000000u);
    mw_json_obj_end(j);
}

bool ev_stats_build_workers(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const cap_stats *cs,
                            const an_stats *as, const out_set *outs, const rule_stats *rs,
                            const ev_trigger_stats *ts, bool final, const ev_stats_cpu *cpu,
                            const ev_stats_worker *w, unsigned nw) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    ev_head(&j, ctx, ts_us, "metric", "mitmwatch.stats", 0);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kobj(&j, "stats");
    mw_json_kbool(&j, "final", final);
#define U(name, v) mw_json_kuint(&j, name, v)
    U("packets", cs->packets);
    U("bytes", cs->bytes);
    U("tcp_packets", cs->tcp_packets);
    U("tcp_payload_bytes", cs->tcp_payload_bytes);
    U("non_tcp_packets", cs->non_tcp);
    U("tunneled_packets", cs->tunneled);
    U("ip_reassembled", cs->ip_reassembled);
    uint64_t by[CAP_UNDEC_COUNT];
    U("undecoded_packets", cap_stats_undecoded(cs, by));
    mw_json_kobj(&j, "undecoded");
    for (int i = 0; i < CAP_UNDEC_COUNT; i++)
        U(cap_undecoded_names[i], by[i]);
    mw_json_obj_end(&j);
    U("flows_created", cs->flows_created);
    U("flows_active", cs->flows_active);
    U("flows_closed", cs->flows_closed);
    U("flows_timed_out", cs->flows_timed_out);
    U("flows_evicted", cs->flows_evicted);
    U("flows_bypassed", cs->flows_bypassed);
    U("reassembly_bytes_in_use", cs->reasm_bytes_in_use);
    U("tls_flows", as->tls_flows);
    U("non_tls_flows", as->non_tls_flows);
    U("starttls_flows", as->starttls_flows);
    U("starttls_upgrades", as->starttls_upgrades);
    U("starttls_refused", as->starttls_refused);
    U("proxy_flows", as->proxy_flows);
    U("proxy_tunnels", as->proxy_tunnels);
    U("proxy_refused", as->proxy_refused);
    U("proxy_not_tls", as->proxy_not_tls);
    U("client_hellos", as->client_hellos);
    U("server_hellos", as->server_hellos);
    U("hello_retry_requests", as->hello_retry_requests);
    U("handshakes", as->handshakes);
    U("certificates", as->certificates);
    U("cert_cache_hits", as->cert_cache_hits);
    U("cert_cache_misses", as->cert_cache_misses);
    U("cert_cache_evictions", as->an[AN_AN_x509_cache_evicted]);
    U("events", out_events_written(outs));
    mw_json_key(&j, "outputs");
    out_stats_json(outs, &j);
    if (rs) ev_stats_verdicts_json(&j, rs);
    if (ts) {
        mw_json_kobj(&j, "triggered_probes");
        U("triggered", ts->triggered);
        U("rate_limited", ts->rate_limited);
        U("dropped", ts->dropped);
        mw_json_obj_end(&j);
    }
    mw_json_kobj(&j, "capture");
    U("received", cs->pcap_recv);
    U("dropped", cs->pcap_drop);
    U("if_dropped", cs->pcap_ifdrop);
    mw_json_obj_end(&j);
    mw_json_kobj(&j, "checksum");
    mw_json_kstr(&j, "mode", cap_csum_mode_name((cap_csum_mode)cs->csum.mode));
    mw_json_kstr(&j, "state", cap_csum_state_name((cap_csum_state)cs->csum.state));
    U("sampled", cs->csum.sampled);
    U("sample_offload", cs->csum.sample_offload);
    U("sample_bad", cs->csum.sample_bad);
    U("unverified", cs->csum.unverified);
    mw_json_obj_end(&j);
    mw_json_kobj(&j, "anomalies");
    for (int i = 0; i < CAP_AN_COUNT; i++)
        U(cap_anomaly_names[i], cs->an[i]);
    for (int i = 0; i < AN_AN_COUNT; i++)
        U(an_anomaly_names[i], as->an[i]);
    mw_json_obj_end(&j);
    if (cpu) {
        /* the workers' sum is of the ms each reports, so that the array adds up to it */
        uint64_t wsum = 0;
        for (unsigned i = 0; i < nw; i++)
            wsum += w[i].cpu_ns / 1000000u;
        mw_json_kobj(&j, "cpu_ms");
        U("main", cpu->main_ns / 1000000u);
        if (cpu->judge) U("judge", cpu->judge_ns / 1000000u);
        if (nw) U("workers", wsum);
        mw_json_obj_end(&j);
    }
#undef U
    if (nw) {
        mw_json_karr(&j, "workers");
        for (unsigned i = 0; i < nw; i++)
            worker_json(&j, &w[i]);
        mw_json_arr_end(&j);
    }
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

void ev_stats_verdicts_json(mw_json *j, const rule_stats *st) {
    mw_json_kobj(j, "verdicts");
    mw_json_kuint(j, "judged", st->judged);
    mw_json_kuint(j, "alerts", st->alerts);
    mw_json_kuint(j, "suppressed", st->suppressed);
    mw_json_kuint(j, "store_certs", st->store_certs);
    mw_json_kuint(j, "intermediates", st->intermediates);
    mw_json_kuint(j, "scts_valid", st->scts_valid);
    mw_json_kuint(j, "scts_invalid", st->scts_invalid);
    mw_json_kuint(j, "scts_unknown_log", st->scts_unknown_log);
    mw_json_kuint(j, "scts_unverified", st->scts_unverified);
    mw_json_kuint(j, "chain_cache_hits", st->chain_cache_hits);
    mw_json_kuint(j, "sct_cache_hits", st->sct_cache_hits);
    mw_json_kuint(j, "suppress_keys", st->suppress_keys);
    mw_json_kuint(j, "suppress_expired", st->suppress_expired);
    mw_json_kuint(j, "suppress_evicted", st->suppress_evicted);
    mw_json_kuint(j, "baseline_services", st->baseline_services);
    mw_json_kuint(j, "baseline_evicted", st->baseline_evicted);
    mw_json_kuint(j, "baseline_full", st->baseline_full);
    mw_json_obj_end(j);
}
