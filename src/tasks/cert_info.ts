/**
 * `cert_info`: read-only facts about a certificate, CSR, CRL or key on the host, registered for
 * later tasks (subject, issuer, days left, fingerprint, key type/size). For a key only public
 * facts are gathered, by the host's openssl (`pkey -pubout`); the key file is never read to the
 * controller, and `type: auto` sniffs only the first PEM header line. Never changes anything.
 */
import { z } from 'zod';
import { defineTask, noChange } from './types.js';
import type { Plan } from './types.js';
import { pathArg } from './lib/args.js';
import { readText, remotePublicKey } from './lib/openssl.js';
import { daysLeft, parseCertificates } from '../pki/inspect.js';
import type { CertInfo } from '../pki/inspect.js';
import { formatSan, parseCsr } from '../pki/csr.js';
import { parseCrls } from '../pki/crl.js';
import { spkiDer } from '../pki/keys.js';
import { createHash } from 'node:crypto';
import type { Probe } from '../transport/types.js';

export const certInfoArgs = z.strictObject({
  path: pathArg,
  type: z.enum(['cert', 'key', 'crl', 'csr', 'auto']).default('auto'),
});

type Kind = 'cert' | 'key' | 'crl' | 'csr';

/** The kind of a PEM file from its first BEGIN line only (a key's body never leaves the host). */
async function sniff(probe: Probe, path: string): Promise<Kind | undefined> {
  const r = await probe.exec(['grep', '-m', '1', '-o', '--', '-----BEGIN [A-Z0-9 ]*-----', path]);
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(r.stdout)?.[1] ?? '';
  if (label.endsWith('PRIVATE KEY')) return 'key';
  if (label.includes('CERTIFICATE REQUEST')) return 'csr';
  if (label.endsWith('CRL')) return 'crl';
  if (label.endsWith('CERTIFICATE')) return 'cert';
  return undefined;
}

/** Registered facts of a certificate (snake_case for templates). */
export function certFacts(c: CertInfo, now = new Date()): Record<string, unknown> {
  return {
    subject: c.subject,
    subject_map: c.subjectMap,
    cn: c.cn,
    issuer: c.issuer,
    issuer_cn: c.issuerCn,
    serial: c.serial,
    san: c.san.map(formatSan),
    not_before: c.notBefore.toISOString(),
    not_after: c.notAfter.toISOString(),
    days_left: daysLeft(c, now),
    fingerprint_sha256: c.fingerprintSha256,
    key: c.key.label,
    key_type: c.key.type,
    key_bits: c.key.bits,
    spki_sha256: c.spkiSha256,
    is_ca: c.isCA,
    self_signed: c.selfIssued,
  };
}

export const certInfoTask = defineTask({
  name: 'cert_info',
  args: certInfoArgs,
  async plan(ctx): Promise<Plan> {
    const { path } = ctx.args;
    const st = await ctx.probe.stat(path);
    if (st === null) return noChange(`${path} does not exist`, { exists: false, path });
    const base = { exists: true, path, owner: st.owner, group: st.group, mode: `0${(st.mode & 0o7777).toString(8)}` };
    const kind = ctx.args.type === 'auto' ? await sniff(ctx.probe, path) : ctx.args.type;
    if (kind === undefined) return { changed: false, steps: [], failed: `${path} is not a PEM certificate, CSR, CRL or private key; give type: if it is DER` };
    if (kind === 'key') {
      const k = await remotePublicKey(ctx.probe, path);
      if (!k.ok) return { changed: false, steps: [], failed: k.error };
      const spki = createHash('sha256').update(spkiDer(k.key)).digest('hex');
      return noChange(`${path}: ${k.desc.label} private key`, {
        ...base,
        type: 'key',
        key: k.desc.label,
        key_type: k.desc.type,
        key_bits: k.desc.bits,
        curve: k.desc.curve,
        public_key: k.pem,
        spki_sha256: spki,
      });
    }
    const text = await readText(ctx.probe, path);
    if (text === null) return noChange(`${path} does not exist`, { exists: false, path });
    try {
      if (kind === 'csr') {
        const c = parseCsr(text);
        return noChange(`${path}: CSR for ${c.subject} (${c.key.label})`, { ...base, type: 'csr', subject: c.subject, cn: c.cn, san: c.san.map(formatSan), key: c.key.label });
      }
      if (kind === 'crl') {
        const crls = parseCrls(text);
        const list = crls.map((c) => ({ issuer: c.issuer, this_update: c.thisUpdate.toISOString(), next_update: c.nextUpdate?.toISOString(), revoked: c.revoked.map((r) => r.serial) }));
        return noChange(`${path}: ${crls.length} CRL(s) from ${crls.map((c) => c.issuerCn ?? c.issuer).join(', ')}`, { ...base, type: 'crl', crls: list });
      }
      const certs = parseCertificates(text);
      const first = certs[0];
      if (!first) return { changed: false, steps: [], failed: `${path} holds no certificate` };
      return noChange(`${path}: ${first.subject}, issued by ${first.issuerCn ?? first.issuer}, ${daysLeft(first)} days left`, {
        ...base,
        type: 'cert',
        ...certFacts(first),
        count: certs.length,
        certs: certs.map((c) => certFacts(c)),
      });
    } catch (e) {
      return { changed: false, steps: [], failed: `${path} cannot be parsed as a ${kind}: ${(e as Error).message}` };
    }
  },
});
