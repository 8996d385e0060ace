/* nDPI classification of the flows mitmwatch analyzes, as extra evidence: the application
 * protocol name (network.protocol) and nDPI's flow risks (mitmwatch.ndpi.risks). mitmwatch's own
 * parser stays the source of the chain and fingerprints. nDPI classifies and stops: it sees a
 * flow's packets until it has named the flow from the ClientHello (or the plaintext of a
 * STARTTLS protocol), never the ServerHello and certificates mitmwatch parses itself; the two
 * risks it would have read there and that mitmwatch can state exactly are added by
 * dpi_unseen_risks (README, "nDPI"). */
#ifndef AN_NDPI_H
#define AN_NDPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dpi_ctx dpi_ctx;
typedef struct dpi_flow dpi_flow;

dpi_ctx *dpi_new(void);
void dpi_free(dpi_ctx *d);
/* Feeds one packet (from its IP header); allocates the flow state on first use. Returns false
 * once nDPI is done with this flow (no more packets needed). */
bool dpi_packet(dpi_ctx *d, dpi_flow **f, const uint8_t *l3, uint32_t l3_len, uint64_t ts_us);
/* The protocol name (lowercase, e.g. "tls", "smtp", "jabber") and risk bitmap; *name is ""
 * when unknown. Gives up (guesses) when detection had not finished; nDPI is shown no more of
 * the flow after this. */
void dpi_result(dpi_ctx *d, dpi_flow *f, char *name, size_t namelen, uint64_t *risks);
void dpi_flow_free(dpi_flow *f);
/* Frees nDPI's data of the flow and keeps the state for the next flow of this context. */
void dpi_flow_release(dpi_ctx *d, dpi_flow *f);
/* mitmwatch's parser owns the rest of the handshake: no more packets for nDPI (its answer is
 * taken now and its per-flow buffers freed). */
void dpi_stop(dpi_ctx *d, dpi_flow *f);
/* Risk bits nDPI would have set from what it was not shown after dpi_stop: a weak negotiated
 * suite (have_sh, cipher) and a fatal alert (fatal_alert: one arrived no later than the
 * ServerHello's packet, which nDPI used to be fed). 0 when not stopped. */
uint64_t dpi_unseen_risks(const dpi_flow *f, bool have_sh, uint16_t cipher, bool fatal_alert);
/* True once nDPI has named the flow's protocol. */
bool dpi_classified(const dpi_flow *f);
/* The name of risk bit i, as nDPI spells it. */
const char *dpi_risk_name(unsigned i);

#endif
