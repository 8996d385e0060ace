#!/usr/bin/python3
"""xmpp_login.py JID PASSWORD HOST PORT CAFILE [--direct-tls] -- a real XMPP client login.

slixmpp (python3-slixmpp) connects to HOST:PORT (no DNS: the lab has none), negotiates TLS
with STARTTLS (or direct TLS with --direct-tls, XEP-0368), verifies the server against
CAFILE, authenticates with SASL, binds a resource, sends presence and a message to itself,
and disconnects. Exit 0 only if the session was established and the message came back.
"""
import asyncio
import logging
import ssl
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ok = False
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.message)
        self.add_event_handler("failed_auth", lambda _e: self.disconnect())

    async def start(self, _event):
        self.send_presence()
        self.send_message(mto=self.boundjid.bare, mbody="mitmwatch lab", mtype="chat")

    def message(self, msg):
        if msg["body"] == "mitmwatch lab":
            self.ok = True
            self.disconnect()


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__.split("\n")[0])
    jid, password, host, port, cafile = sys.argv[1:6]
    direct = sys.argv[6:] == ["--direct-tls"]
    logging.basicConfig(level=logging.WARNING)
    xmpp = Client(jid, password)
    xmpp.ca_certs = cafile
    # Pin TLS 1.2 so the certificate chain is on the wire for the passive sensor.
    xmpp.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
    xmpp.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
    if direct:
        xmpp.connect((host, int(port)), use_ssl=True, force_starttls=False)
    else:
        xmpp.connect((host, int(port)), use_ssl=False, force_starttls=True)
    loop = asyncio.get_event_loop()
    loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 15))
    print("xmpp_login: session ok" if xmpp.ok else "xmpp_login: FAILED")
    return 0 if xmpp.ok else 1


if __name__ == "__main__":
    sys.exit(main())
