#!/bin/sh
# mkpki.sh OUTDIR -- throwaway test PKI for the TLS capture lab.
#
# Generated at test time, never committed: the keys are worthless outside the lab and
# fresh keys each run keep anyone from trusting them. The tests never hard-code hashes;
# they read the *.sha256 files written here.
#
# Hierarchy (the chain each server presents, in order, is NAME.chain.pem / .chain.sha256):
#   root  "mitmwatch Lab Root CA"            RSA-2048, self-signed
#   int1  "mitmwatch Lab Intermediate CA 1"  ECDSA P-384, signed by root
#   int2  "mitmwatch Lab Intermediate CA 2"  RSA-2048, signed by int1
#   rsa   CN=rsa.lab.test    RSA-2048,  signed by int1  served: rsa, int1
#   ecdsa CN=ecdsa.lab.test  ECDSA P-256, signed by int1 served: ecdsa, int1
#   chain CN=chain.lab.test  RSA-2048,  signed by int2  served: chain, int2, int1 (3 certs)
#   xmpp  CN=xmpp.lab.test   RSA-2048,  signed by int1  served: xmpp, int1  (STARTTLS lab)
#   mail  CN=mail.lab.test   ECDSA P-256, signed by int2 served: mail, int2, int1 (STARTTLS lab)
#
# Files per certificate NAME: NAME.key NAME.pem NAME.der NAME.sha256 (lowercase hex of the
# DER, no newline issues: one line). Per leaf: NAME.chain.pem and NAME.chain.sha256 (one
# lowercase hex per line, presented order). root.pem is the trust anchor for the clients.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
cd "$out"

# Validity fixed around "now" but long, so a demo pcap made today still parses as valid
# for years; the exact dates are not asserted by the lab.
days=3650

cat > ca.ext <<'EOF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

leaf_ext() { # $1 = dns name, $2 = extra SANs (comma-prefixed or empty)
    cat <<EOF
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:$1$2
EOF
}

rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$2" \
               -pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null; }

finish() { # NAME: write DER and sha256
    openssl x509 -in "$1.pem" -outform DER -out "$1.der"
    openssl dgst -sha256 -r "$1.der" | cut -d' ' -f1 > "$1.sha256"
}

# Random 16-byte serials: unique per run without a serial file.
serial() { openssl rand -hex 16; }

# Root: req -x509 needs a config with a [req] section; keep it self-contained so the
# system openssl.cnf cannot add extensions behind our back.
cat > req.cnf <<'EOF2'
[req]
distinguished_name = dn
prompt = no
[dn]
EOF2
cat ca.ext >> req.cnf
rsa_key root.key
openssl req -new -x509 -config req.cnf -key root.key -sha256 -days "$days" \
    -set_serial "0x$(serial)" -subj "/O=mitmwatch Lab/CN=mitmwatch Lab Root CA" \
    -extensions ca -out root.pem
finish root

sign() { # NAME ISSUER EXTSECTION EXTFILE SUBJECT
    openssl req -new -config req.cnf -key "$1.key" -subj "$5" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -sha256 -days "$days" \
        -set_serial "0x$(serial)" -extfile "$4" -extensions "$3" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr"
    finish "$1"
}

ec_key int1.key P-384
sign int1 root ca ca.ext "/O=mitmwatch Lab/CN=mitmwatch Lab Intermediate CA 1"
rsa_key int2.key
sign int2 int1 ca ca.ext "/O=mitmwatch Lab/CN=mitmwatch Lab Intermediate CA 2"

rsa_key rsa.key
leaf_ext rsa.lab.test ",DNS:www.rsa.lab.test" > rsa.ext
sign rsa int1 leaf rsa.ext "/O=mitmwatch Lab/CN=rsa.lab.test"

ec_key ecdsa.key P-256
leaf_ext ecdsa.lab.test ",DNS:*.ecdsa.lab.test" > ecdsa.ext
sign ecdsa int1 leaf ecdsa.ext "/O=mitmwatch Lab/CN=ecdsa.lab.test"

rsa_key chain.key
leaf_ext chain.lab.test ",DNS:alt.chain.lab.test,IP:127.0.0.1" > chain.ext
sign chain int2 leaf chain.ext "/O=mitmwatch Lab/CN=chain.lab.test"

# STARTTLS lab (starttls_capture.sh): an XMPP domain certificate and one for the mail,
# directory and database servers (3-certificate chain, ECDSA leaf under an RSA CA).
rsa_key xmpp.key
leaf_ext xmpp.lab.test ",DNS:conference.xmpp.lab.test" > xmpp.ext
sign xmpp int1 leaf xmpp.ext "/O=mitmwatch Lab/CN=xmpp.lab.test"

ec_key mail.key P-256
leaf_ext mail.lab.test ",DNS:imap.lab.test,DNS:pop3.lab.test,DNS:ldap.lab.test,DNS:db.lab.test,DNS:ftp.lab.test,IP:127.0.0.1" > mail.ext
sign mail int2 leaf mail.ext "/O=mitmwatch Lab/CN=mail.lab.test"

# Served chains, presented order (leaf first).
cat rsa.pem int1.pem > rsa.chain.pem
cat rsa.sha256 int1.sha256 > rsa.chain.sha256
cat ecdsa.pem int1.pem > ecdsa.chain.pem
cat ecdsa.sha256 int1.sha256 > ecdsa.chain.sha256
cat chain.pem int2.pem int1.pem > chain.chain.pem
cat chain.sha256 int2.sha256 int1.sha256 > chain.chain.sha256
cat xmpp.pem int1.pem > xmpp.chain.pem
cat xmpp.sha256 int1.sha256 > xmpp.chain.sha256
cat mail.pem int2.pem int1.pem > mail.chain.pem
cat mail.sha256 int2.sha256 int1.sha256 > mail.chain.sha256
# s_server wants the extra certificates apart from the leaf.
cat int1.pem > rsa.extra.pem
cat int1.pem > ecdsa.extra.pem
cat int2.pem int1.pem > chain.extra.pem
cat int1.pem > xmpp.extra.pem
cat int2.pem int1.pem > mail.extra.pem

# Self-check: every served chain verifies to the root, so a handshake failure in the lab
# means a server/client problem, not a broken PKI.
for n in rsa ecdsa chain xmpp mail; do
    openssl verify -CAfile root.pem -untrusted "$n.extra.pem" "$n.pem" >/dev/null
done
rm -f ./*.ext ./*.srl req.cnf
echo "mkpki: PKI in $(pwd)"
