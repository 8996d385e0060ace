#!/usr/bin/python3
"""tshark_merge.py TMPDIR OUT.json VERSION -- fold tshark_ref.sh's per-packet JSON into one
record per TCP stream. Called by tshark_ref.sh; not meant to be run alone.

Per stream: every ClientHello and ServerHello in order (a HelloRetryRequest handshake has
two of each) and, for convenience, the values of the handshake as one event should carry:
ja3/ja3_full of the FIRST ClientHello (the client's own offer; the second one only answers
the HRR), ja3s/ja3s_full/version/cipher of the LAST ServerHello (the one the session runs
on), and the SHA-256 of each certificate presented, in order.
"""
import hashlib
import json
import os
import sys

# RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
VERSIONS = {"0x0301": "1.0", "0x0302": "1.1", "0x0303": "1.2", "0x0304": "1.3",
            "0x00000301": "1.0", "0x00000302": "1.1", "0x00000303": "1.2",
            "0x00000304": "1.3"}


def packets(path):
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    if not text:
        return []
    for p in json.loads(text):
        yield p["_source"]["layers"]


def one(layers, name):
    v = layers.get(name)
    if not v:
        return None
    if len(v) != 1:
        sys.exit(f"tshark_merge: frame {layers.get('frame.number')}: {len(v)} values of "
                 f"{name}; expected one handshake message of a kind per frame")
    return v[0]


def version_name(v):
    return VERSIONS.get(v, v)


def stream_of(streams, layers, from_client):
    sid = int(one(layers, "tcp.stream"))
    s = streams.get(sid)
    if s is None:
        src = (one(layers, "ip.src") or one(layers, "ipv6.src"), int(one(layers, "tcp.srcport")))
        dst = (one(layers, "ip.dst") or one(layers, "ipv6.dst"), int(one(layers, "tcp.dstport")))
        cli, srv = (src, dst) if from_client else (dst, src)
        s = {"tcp_stream": sid, "client_ip": cli[0], "client_port": cli[1],
             "server_ip": srv[0], "server_port": srv[1],
             "client_hellos": [], "server_hellos": [], "certificates_sha256": []}
        streams[sid] = s
    return s


def main():
    tmp, out, tshark_version = sys.argv[1:]
    streams = {}
    for layers in packets(os.path.join(tmp, "ch.json")):
        s = stream_of(streams, layers, True)
        s["client_hellos"].append({
            "frame": int(one(layers, "frame.number")),
            "ja3": one(layers, "tls.handshake.ja3"),
            "ja3_full": one(layers, "tls.handshake.ja3_full"),
            "legacy_version": version_name(one(layers, "tls.handshake.version")),
            "sni": one(layers, "tls.handshake.extensions_server_name"),
            "alpn": layers.get("tls.handshake.extensions_alpn_str", []),
            "session_id": one(layers, "tls.handshake.session_id") or "",
        })
    for layers in packets(os.path.join(tmp, "sh.json")):
        s = stream_of(streams, layers, False)
        sv = one(layers, "tls.handshake.extensions.supported_version")
        s["server_hellos"].append({
            "frame": int(one(layers, "frame.number")),
            "ja3s": one(layers, "tls.handshake.ja3s"),
            "ja3s_full": one(layers, "tls.handshake.ja3s_full"),
            "legacy_version": version_name(one(layers, "tls.handshake.version")),
            "selected_version": version_name(sv) if sv else None,
            "cipher_id": int(one(layers, "tls.handshake.ciphersuite"), 0),
            "cipher": one(layers, "_ws.col.cs"),
            "alpn": one(layers, "tls.handshake.extensions_alpn_str"),
            "hello_retry_request": one(layers, "tls.handshake.random") == HRR_RANDOM,
            "session_id": one(layers, "tls.handshake.session_id") or "",
        })
    for layers in packets(os.path.join(tmp, "cert.json")):
        s = stream_of(streams, layers, False)
        for hexder in layers.get("tls.handshake.certificate", []):
            der = bytes.fromhex(hexder.replace(":", ""))
            s["certificates_sha256"].append(hashlib.sha256(der).hexdigest())

    result = []
    for sid in sorted(streams):
        s = streams[sid]
        chs, shs = s["client_hellos"], s["server_hellos"]
        first_ch = chs[0] if chs else {}
        last_sh = shs[-1] if shs else {}
        version = last_sh.get("selected_version") or last_sh.get("legacy_version")
        if version == "1.3":
            # PSK resumption: the server accepted a pre_shared_key (extension 41).
            resumed = "41" in (last_sh.get("ja3s_full") or "").split(",")[-1].split("-")
        elif last_sh:
            # TLS 1.2 abbreviated handshake: the server echoes the client's session id
            # (also the case for ticket resumption, RFC 5077 3.4) and sends no Certificate.
            resumed = (bool(first_ch.get("session_id"))
                       and last_sh["session_id"] == chs[-1]["session_id"]
                       and not s["certificates_sha256"])
        else:
            resumed = None
        s.update({
            "ja3": first_ch.get("ja3"),
            "ja3_full": first_ch.get("ja3_full"),
            "ja3s": last_sh.get("ja3s"),
            "ja3s_full": last_sh.get("ja3s_full"),
            "version": version,
            "cipher": last_sh.get("cipher"),
            "cipher_id": last_sh.get("cipher_id"),
            "sni": first_ch.get("sni"),
            "alpn_offered": first_ch.get("alpn", []),
            "alpn_selected": last_sh.get("alpn"),
            "hello_retry_request": any(h["hello_retry_request"] for h in shs),
            "resumed": resumed,
        })
        result.append(s)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"tshark": tshark_version, "streams": result}, f, indent=1)
        f.write("\n")
    print(f"tshark_ref: {len(result)} streams -> {out}")


if __name__ == "__main__":
    main()
