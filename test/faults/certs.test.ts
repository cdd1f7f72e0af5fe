/**
 * Malformed certificate material on a real host: a truncated certificate, a key where a certificate
 * is expected, DER where PEM is expected, expired and not-yet-valid certificates, a key that does not
 * match, an encrypted key. `verify`, `cert_info` and `sign` must fail with a clear error naming the
 * file and the host, before anything changes (sign's dest is never created), and never print a stack.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedCa, issueCertificate } from '../../src/pki/sign.js';
import { FULL, startFaultEnv, statesOf } from './support.js';
import type { FaultEnv } from './support.js';

let env: FaultEnv;
let pki: string;

const ossl = (args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: ['ignore', 'pipe', 'pipe'] });
const EC = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const DAY = 86_400_000;

beforeAll(async () => {
  env = await startFaultEnv(['h1']);
  // The material lives on the host (its root), outside the etc tree the snapshots cover.
  pki = join(env.root('h1'), 'pki');
  mkdirSync(pki, { recursive: true });
  ossl(['genpkey', ...EC, '-out', 'ca.key']);
  ossl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Fault CA', '-days', '30', '-out', 'ca.crt', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  ossl(['genpkey', ...EC, '-out', 'leaf.key']);
  ossl(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=leaf', '-out', 'leaf.csr']);
  ossl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '10', '-out', 'leaf.crt']);
  ossl(['genpkey', ...EC, '-out', 'other.key']);
  ossl(['pkey', '-in', 'ca.key', '-aes256', '-passout', 'pass:fault-pass', '-out', 'ca-enc.key']);
  ossl(['pkey', '-in', 'leaf.key', '-aes256', '-passout', 'pass:fault-pass', '-out', 'leaf-enc.key']);
  ossl(['x509', '-in', 'leaf.crt', '-outform', 'DER', '-out', 'leaf.der']);
  ossl(['req', '-in', 'leaf.csr', '-outform', 'DER', '-out', 'leaf-csr.der']);
  const crt = readFileSync(join(pki, 'leaf.crt'), 'utf8');
  writeFileSync(join(pki, 'trunc.crt'), crt.slice(0, Math.floor(crt.length * 0.6)));
  const csr = readFileSync(join(pki, 'leaf.csr'), 'utf8');
  writeFileSync(join(pki, 'trunc.csr'), csr.slice(0, Math.floor(csr.length * 0.6)));
  // Expired and not-yet-valid CAs (self-signed, so each is its own bundle).
  for (const [name, notBefore, notAfter] of [
    ['expired', new Date(Date.now() - 40 * DAY), new Date(Date.now() - 10 * DAY)],
    ['future', new Date(Date.now() + 10 * DAY), new Date(Date.now() + 40 * DAY)],
  ] as const) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(pki, `${name}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(pki, `${name}.crt`), await createSelfSignedCa({ key: privateKey, subject: `/CN=${name} CA`, days: 1, notBefore, notAfter }));
    // And a client certificate from the valid CA with the same dates.
    const ca = { certPem: readFileSync(join(pki, 'ca.crt'), 'utf8'), key: createPrivateKey(readFileSync(join(pki, 'ca.key'))) };
    const leaf = await issueCertificate({ csrPem: readFileSync(join(pki, 'leaf.csr'), 'utf8'), ca, usage: 'client', days: 1, notBefore, notAfter });
    writeFileSync(join(pki, `${name}-leaf.crt`), leaf.certPem);
  }
}, 120_000);

afterAll(async () => {
  await env?.dispose();
});

// [label, module, args (paths relative to pki), what the error must say besides the file]
const P = (f: string) => `{{ root }}/pki/${f}`;
// open: a known gap, run only with FLEETPLAY_FAULTS_FULL=1 (see README).
type Case = [string, 'verify' | 'cert_info' | 'sign', Record<string, unknown>, string, RegExp, boolean?];
const cases: Case[] = [
  ['verify: truncated certificate', 'verify', { cert: P('trunc.crt'), ca_bundle: P('ca.crt') }, 'trunc.crt', /./],
  ['verify: a key where the certificate goes', 'verify', { cert: P('leaf.key'), ca_bundle: P('ca.crt') }, 'leaf.key', /certificate|private key/i],
  ['verify: DER certificate', 'verify', { cert: P('leaf.der'), ca_bundle: P('ca.crt') }, 'leaf.der', /DER|PEM/],
  ['verify: expired certificate', 'verify', { cert: P('expired-leaf.crt'), ca_bundle: P('ca.crt') }, 'expired-leaf.crt', /expired/i],
  ['verify: not-yet-valid certificate', 'verify', { cert: P('future-leaf.crt'), ca_bundle: P('ca.crt') }, 'future-leaf.crt', /not (yet )?valid/i],
  ['verify: a key that does not match', 'verify', { cert: P('leaf.crt'), key: P('other.key'), ca_bundle: P('ca.crt') }, 'other.key', /match/i],
  ['verify: an encrypted key', 'verify', { cert: P('leaf.crt'), key: P('leaf-enc.key'), ca_bundle: P('ca.crt') }, 'leaf-enc.key', /encrypted|passphrase/i],
  ['cert_info: truncated certificate', 'cert_info', { path: P('trunc.crt') }, 'trunc.crt', /./],
  ['cert_info: a key read as a certificate', 'cert_info', { path: P('leaf.key'), type: 'cert' }, 'leaf.key', /certificate|private key/i],
  ['cert_info: DER certificate', 'cert_info', { path: P('leaf.der') }, 'leaf.der', /DER|PEM/],
  ['cert_info: an encrypted key', 'cert_info', { path: P('leaf-enc.key'), type: 'key' }, 'leaf-enc.key', /encrypted|passphrase/i],
  ['sign: truncated CSR', 'sign', { csr: P('trunc.csr'), ca: { host: 'h1', cert: P('ca.crt'), key: P('ca.key') } }, 'trunc.csr', /./],
  ['sign: a certificate where the CSR goes', 'sign', { csr: P('leaf.crt'), ca: { host: 'h1', cert: P('ca.crt'), key: P('ca.key') } }, 'leaf.crt', /CSR|request/i],
  ['sign: DER CSR', 'sign', { csr: P('leaf-csr.der'), ca: { host: 'h1', cert: P('ca.crt'), key: P('ca.key') } }, 'leaf-csr.der', /DER|PEM/],
  ['sign: expired CA', 'sign', { csr: P('leaf.csr'), ca: { host: 'h1', cert: P('expired.crt'), key: P('expired.key') } }, 'expired.crt', /expired/i],
  ['sign: not-yet-valid CA', 'sign', { csr: P('leaf.csr'), ca: { host: 'h1', cert: P('future.crt'), key: P('future.key') } }, 'future.crt', /not yet valid/i],
  ['sign: a CA key that does not match', 'sign', { csr: P('leaf.csr'), ca: { host: 'h1', cert: P('ca.crt'), key: P('other.key') } }, 'other.key', /match/i],
  ['sign: an encrypted CA key', 'sign', { csr: P('leaf.csr'), ca: { host: 'h1', cert: P('ca.crt'), key: P('ca-enc.key') } }, 'ca-enc.key', /encrypted|passphrase/i],
];

describe('malformed certificate material on a host', () => {
  for (const [label, module, args, file, says, open] of cases) {
    it.skipIf(open === true && !FULL)(`${label}: a clear error naming the file and the host; nothing changes${open ? ' (open)' : ''}`, async () => {
      env.seed();
      const before = env.snap();
      const dest = join(env.root('h1'), 'etc', 'app', 'signed.crt');
      const full = module === 'sign' ? { ...args, dest: '{{ root }}/etc/app/signed.crt' } : args;
      const pb = env.writePlaybook(
        'cert-case.yaml',
        `
- name: malformed material
  hosts: h1
  tasks:
    - name: the cert task
      ${module}: ${JSON.stringify(full)}
    - name: after
      copy: { dest: "{{ root }}/etc/app/after.conf", content: "after\\n", mode: '0644' }
`,
      );
      const json = join(env.work, 'cert-case.json');
      const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
      const out = r.stdout + r.stderr;
      expect(r.code, out).toBe(2);
      expect(out).not.toMatch(/INTERNAL ERROR|\n\s+at /);
      const rep = env.report(json);
      const res = rep.results.find((x) => x.task === 'the cert task');
      expect(res?.status, out).toBe('failed');
      const err = res?.error ?? '';
      expect(err, out).toContain(file);
      expect(err, out).toMatch(says);
      // The host is named where the error is shown.
      expect(out.split('\n').some((l) => l.includes('h1') && l.includes(file)), out).toBe(true);
      expect(rep.results.find((x) => x.task === 'after')).toBeUndefined();
      expect(statesOf(rep)).toEqual({ h1: 'failed' });
      expect(existsSync(dest)).toBe(false);
      expect(env.snap()).toEqual(before);
      // No key material in what was printed.
      expect(out).not.toMatch(/PRIVATE KEY-----\n[A-Za-z0-9+/]/);
    }, 60_000);
  }
});
