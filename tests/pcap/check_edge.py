#!/usr/bin/python3
"""Runs mitmwatch on the edge-case captures and compares its output with tests/pcap/cases.json.

usage: check_edge.py --set generated|committed --dir DIR --mitmwatch BIN|none [--out OUTDIR]
                     [--cases CASES.json] [--only NAME,...]

  generated: DIR is run_edge.sh's WORKDIR (DIR/seed/seed.json, DIR/seed/*.pcap, DIR/cases/*)
  committed: DIR is tests/pcap/cases (no root needed)
  --mitmwatch none: only the tshark checks (the captures themselves against the known facts)

Every case runs `BIN -r FILE -o OUT.json`, then checks: exit status 0 and a final
mitmwatch.stats line; the exact number of mitmwatch.tls events; the listed facts equal those of
mitmwatch's event for the seed AND the seed's known values (seed.json / literals); exact fields;
the anomaly counters and other stats; and, where tshark is installed and can decode the case, that tshark (with
out-of-order reassembly) finds the same JA3, JA3S and certificate hashes as mitmwatch and the seed.
Prints one line per case and "N passed, M failed"; exit 1 on any failure, 77 when a needed tool
is missing.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def get(obj, path):
    """Dotted path in nested objects; a literal dotted key is accepted too."""
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    cur = obj
    for part in path.split('.'):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def facts_of(ev):
    chain = get(ev, 'mitmwatch.tls.chain')
    return {
        'ja3': get(ev, 'tls.client.ja3'),
        'ja3s': get(ev, 'tls.server.ja3s'),
        'chain': [c.get('sha256') for c in chain] if isinstance(chain, list) else None,
        'version': get(ev, 'tls.version'),
        'cipher': get(ev, 'tls.cipher'),
        'sni': get(ev, 'tls.client.server_name'),
        'ports': [get(ev, 'source.port'), get(ev, 'destination.port')],
        'ips': [get(ev, 'source.ip'), get(ev, 'destination.ip')],
    }


# ----------------------------------------------------------------------------------------------
# tshark: an independent decoder


def tshark_facts(path):
    """Per client port: {'ja3', 'ja3s', 'chain', 'ports'} as tshark 4.x reassembles them."""
    cmd = ['tshark', '-n', '-r', path, '-d', 'tcp.port==8443,tls',
           '-o', 'tcp.reassemble_out_of_order:TRUE', '-o', 'tcp.desegment_tcp_streams:TRUE',
           '-o', 'tls.desegment_ssl_records:TRUE', '-o', 'tls.desegment_ssl_application_data:TRUE',
           '-Y', 'tls.handshake.type==1 || tls.handshake.type==2 || tls.handshake.type==11',
           '-T', 'fields', '-E', 'separator=\t', '-e', 'tcp.srcport', '-e', 'tcp.dstport',
           '-e', 'tls.handshake.ja3', '-e', 'tls.handshake.ja3s', '-e', 'tls.handshake.certificate']
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=120)
    flows = {}
    for line in r.stdout.splitlines():
        f = (line.split('\t') + [''] * 5)[:5]
        sp, dp = int(f[0]), int(f[1])
        cport = dp if sp == 8443 else sp
        fl = flows.setdefault(cport, {'ja3': None, 'ja3s': None, 'chain': [],
                                      'ports': [cport, 8443]})
        if f[2]:
            fl['ja3'] = f[2].split(',')[0]
        if f[3]:
            fl['ja3s'] = f[3].split(',')[0]
        if f[4]:
            fl['chain'] = [hashlib.sha256(bytes.fromhex(c.replace(':', ''))).hexdigest()
                           for c in f[4].split(',')]
    return flows


# ----------------------------------------------------------------------------------------------


class Runner:
    def __init__(self, args):
        self.args = args
        self.mw = args['mitmwatch']
        self.out = args['out']
        self.have_tshark = shutil.which('tshark') is not None
        self.cache = {}

    def run_mw(self, path):
        if path in self.cache:
            return self.cache[path]
        name = os.path.basename(path).replace('.', '_')
        outp = os.path.join(self.out, name + '.json')
        errs = []
        try:
            if os.path.exists(outp):
                os.remove(outp)  # mitmwatch appends to an existing file
            r = subprocess.run([self.mw, '-r', path, '-o', outp], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            if r.returncode != 0:
                errs.append('mitmwatch exit %d: %s' % (r.returncode,
                                                       r.stderr.decode(errors='replace')[-300:]))
        except subprocess.TimeoutExpired:
            errs.append('mitmwatch timed out after 60 s')
        lines = []
        if os.path.exists(outp):
            with open(outp) as f:
                for i, ln in enumerate(f):
                    if ln.strip():
                        try:
                            lines.append(json.loads(ln))
                        except ValueError:
                            errs.append('line %d is not JSON' % (i + 1))
        tls = [e for e in lines if get(e, 'event.dataset') == 'mitmwatch.tls']
        stats = None
        if lines and get(lines[-1], 'event.dataset') == 'mitmwatch.stats':
            stats = lines[-1]
        else:
            errs.append('last output line is not the mitmwatch.stats event')
        res = (tls, stats, errs)
        self.cache[path] = res
        return res


def pick(events, port):
    if len(events) == 1 or port is None:
        return events[0] if events else None
    for e in events:
        if get(e, 'source.port') == port:
            return e
    return events[0] if events else None


def check_case(rn, spec, name, case, seeds, known, model, defaults):
    fails = []
    path = os.path.join(rn.args['dir'], case['file'])
    if not os.path.exists(path):
        return ['capture missing: ' + path]
    seed_name = case.get('seed')
    kn = known.get(seed_name, {})
    seed_port = kn.get('ports', [None])[0]

    # The spec against the model of mutate.py (generated captures only).
    if model is not None and case.get('model'):
        m = model.get(case['model'])
        if m is None:
            fails.append('model.json has no %s' % case['model'])
        else:
            for cn in defaults:
                if not cn.startswith('tcp_'):  # the model covers TCP reassembly only
                    continue
                want = case.get('anomalies', {}).get(cn, defaults[cn])
                lo_hi = m['anomalies'].get(cn, [0, 0])
                exp = [want, want] if isinstance(want, int) else [want['min'], want['max']]
                if lo_hi != exp:
                    fails.append('spec drift: cases.json says %s %s, mutate.py model says %s' %
                                 (cn, exp, lo_hi))

    # tshark: the capture itself carries (or, for 'hello', lacks) the seed's facts.
    mode = case.get('tshark', 'none')
    tsh = None
    if mode != 'none' and rn.have_tshark:
        flows = tshark_facts(path)
        if seed_port is not None and seed_port in flows:
            tsh = flows[seed_port]
        elif flows:
            tsh = next((f for f in flows.values() if f['ja3']), None)
        if tsh is None:
            fails.append('tshark decodes no TLS handshake')
        else:
            for k in ('ja3', 'ja3s'):
                if kn.get(k) is not None and tsh[k] != kn[k]:
                    fails.append('tshark %s %s != seed %s' % (k, tsh[k], kn[k]))
            if mode == 'full' and 'chain' in kn and tsh['chain'] != kn['chain']:
                fails.append('tshark chain %s != seed %s' % (tsh['chain'], kn['chain']))
            if mode == 'hello' and tsh['chain']:
                fails.append('tshark still reassembles a certificate: the capture is not broken')

    if rn.mw == 'none':
        return fails

    tls, stats, errs = rn.run_mw(path)
    fails.extend(errs)
    if len(tls) != case['events']:
        fails.append('%d mitmwatch.tls events, expected %d' % (len(tls), case['events']))
    ev = pick(tls, seed_port)
    if ev is not None:
        f = facts_of(ev)
        seed_ev = None
        if seed_name in seeds:
            stls, _s, serr = rn.run_mw(os.path.join(rn.args['dir'], seeds[seed_name]['file']))
            seed_ev = pick(stls, seed_port)
            if seed_ev is None:
                fails.append('no event for the seed %s %s' % (seed_name, serr))
        sf = facts_of(seed_ev) if seed_ev is not None else {}
        for k in case.get('same_as_seed', []):
            if seed_ev is not None and f[k] != sf[k]:
                fails.append('%s %s != seed event %s' % (k, f[k], sf[k]))
            if k in kn and f[k] != kn[k]:
                fails.append('%s %s != known %s' % (k, f[k], kn[k]))
            if tsh is not None and k in ('ja3', 'ja3s') and f[k] != tsh[k]:
                fails.append('%s %s != tshark %s' % (k, f[k], tsh[k]))
            if tsh is not None and k == 'chain' and mode == 'full' and f[k] != tsh[k]:
                fails.append('chain %s != tshark %s' % (f[k], tsh[k]))
        for p, want in case.get('fields', {}).items():
            got = get(ev, p)
            if got != want:
                fails.append('%s = %r, expected %r' % (p, got, want))
        for p, what in case.get('fields_from_seed', {}).items():
            if what == 'leaf_sha256_upper' and kn.get('chain'):
                want = kn['chain'][0].upper()
                if get(ev, p) != want:
                    fails.append('%s = %r, expected %r' % (p, get(ev, p), want))
    if stats is not None:
        for p, want in case.get('stats', {}).items():
            got = get(stats, 'mitmwatch.stats.' + p)
            if got != want:
                fails.append('stats %s = %r, expected %r' % (p, got, want))
        an = get(stats, 'mitmwatch.stats.anomalies') or {}
        for cn in defaults:
            want = case.get('anomalies', {}).get(cn, defaults[cn])
            got = an.get(cn)
            if got is None:
                fails.append('anomaly counter %s absent' % cn)
            elif isinstance(want, int) and got != want:
                fails.append('%s = %d, expected %d' % (cn, got, want))
            elif isinstance(want, dict) and not want['min'] <= got <= want['max']:
                fails.append('%s = %d, expected %d..%d' % (cn, got, want['min'], want['max']))
    return fails


def main(argv):
    args = {'cases': os.path.join(HERE, 'cases.json'), 'out': None, 'only': None}
    it = iter(argv[1:])
    for a in it:
        if a in ('--set', '--dir', '--mitmwatch', '--out', '--cases', '--only'):
            args[a[2:]] = next(it)
        else:
            print(__doc__)
            return 2
    for k in ('set', 'dir', 'mitmwatch'):
        if k not in args:
            print(__doc__)
            return 2
    if args['mitmwatch'] != 'none' and not os.access(args['mitmwatch'], os.X_OK):
        print('check_edge: %s is not executable' % args['mitmwatch'])
        return SKIP
    if args['out'] is None:
        args['out'] = os.path.join(args['dir'], 'out-' + args['set'])
    os.makedirs(args['out'], exist_ok=True)
    with open(args['cases']) as f:
        spec = json.load(f)
    part = spec[args['set']]
    defaults = spec['anomaly_defaults']
    rn = Runner(args)
    if not rn.have_tshark:
        print('check_edge: tshark not installed: the independent tshark comparisons are skipped')

    # The seeds' known facts.
    known = {}
    model = None
    for sname, s in part['seeds'].items():
        k = s['known']
        if isinstance(k, str):  # "seed.json:tls12": from make_seed.sh and tshark on the seed
            fn, key = k.split(':')
            with open(os.path.join(args['dir'], 'seed', fn)) as f:
                sj = json.load(f)[key]
            k = {'chain': sj['chain_sha256'], 'version': sj['version'], 'cipher': sj['cipher'],
                 'sni': 'edge.test'}
            if rn.have_tshark:
                fl = tshark_facts(os.path.join(args['dir'], s['file']))
                if len(fl) == 1:
                    t = next(iter(fl.values()))
                    k.update({'ja3': t['ja3'], 'ja3s': t['ja3s'], 'ports': t['ports']})
        known[sname] = k
    if args['set'] == 'generated':
        with open(os.path.join(args['dir'], 'cases', 'model.json')) as f:
            model = json.load(f)
        for sname in known:
            ms = model.get(('' if sname == 'seed_tls12' else 'tls13_') + '_seed')
            if ms and 'ports' not in known[sname]:
                known[sname]['ports'] = [ms['client'][1], ms['server'][1]]
            if 'ips' not in known[sname]:
                known[sname]['ips'] = ['127.0.0.1', '127.0.0.1']

    only = set(args['only'].split(',')) if args['only'] else None
    passed = failed = 0
    for name, case in part['cases'].items():
        if only and name not in only:
            continue
        fails = check_case(rn, spec, name, case, part['seeds'], known, model, defaults)
        if fails:
            failed += 1
            print('FAIL %s/%s' % (args['set'], name))
            for x in fails:
                print('     ' + x)
        else:
            passed += 1
            print('ok   %s/%s' % (args['set'], name))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
