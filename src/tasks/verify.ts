/**
 * `verify`: a read-only assertion about a certificate (and its key) on the host, as PostgreSQL
 * would judge it: key matches cert, CN, days left, the chain against a CA bundle and, with CRL
 * checking, a current CRL from every CA in the chain (`postgresWouldAccept`); and the key file's
 * owner/mode rules of the PostgreSQL server or of libpq. Fails with a message that names the file,
 * what is wrong and the fix. Never changes anything.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { defineTask, noChange } from './types.js';
import type { Plan } from './types.js';
import { boolArg, modeArg, ownerArg, pathArg } from './lib/args.js';
import { readText, remotePublicKey } from './lib/openssl.js';
import { formatMode } from './steps.js';
import { daysLeft, parseCertificates, publicKeyMatches } from '../pki/inspect.js';
import { postgresWouldAccept } from '../pki/crl.js';
import type { PgVerdict } from '../pki/crl.js';
import type { RemoteStat } from '../transport/types.js';

export const verifyArgs = z.strictObject({
  cert: pathArg,
  key: pathArg.optional(),
  ca_bundle: pathArg.optional(),
  crl: pathArg.optional(),
  /** Default: on when `crl` is given (that is what ssl_crl_file does). */
  crl_check: boolArg.optional(),
  cn: z.string().min(1).optional(),
  min_days: z.coerce.number().int().optional(),
  /** Expected owner/mode of the key (or of the cert when no key is given). */
  owner: ownerArg.optional(),
  mode: modeArg.optional(),
  role: z.enum(['postgres_server_key', 'libpq_client_key']).optional(),
  /** The database OS user for role postgres_server_key (default: owner, else postgres). */
  db_user: z.string().min(1).optional(),
  /** Refuse CRLs that expire within this many days (pitfall 1's margin). */
  crl_margin_days: z.coerce.number().nonnegative().default(0),
  /**
   * Read ca_bundle and crl on this inventory host (or 'localhost', the controller) instead of the
   * target: e.g. an agent's certificate checked against the root.crt/root.crl staged on the server.
   */
  files_host: z.string().min(1).optional(),
});

const FIX: Record<string, string> = {
  'unable to get CRL': 'either add a current CRL from every CA in the CA bundle to the CRL file, or comment out ssl_crl_file',
  'CRL expired': 'refresh the CRL (crl task, state: present) and reload',
  'CRL not yet valid': 'check the clocks of the CA host and the server',
  'CRL signature': 'replace the CRL with one signed by the CA in the bundle',
  revoked: 'issue a new certificate for this host',
  'unable to get issuer': 'add the issuing CA to the CA bundle, and append any intermediates to the certificate file',
  'self-signed certificate': 'sign the certificate with the CA in the bundle',
  'self-signed certificate in chain': 'add that root CA to the CA bundle',
  'invalid CA': 'the issuer is not a CA; sign with a CA certificate',
  'invalid purpose': 'issue the certificate with usage: client (or both)',
  signature: 'the certificate was altered or the bundle holds another CA with the same name; reissue it',
  expired: 'renew the certificate (sign task)',
  'not yet valid': "check the host clocks, or wait until the certificate's notBefore",
};

/** PostgreSQL's rule for ssl_key_file, or libpq's for sslkey; a problem sentence or undefined. */
export function keyFileProblem(role: 'postgres_server_key' | 'libpq_client_key', st: RemoteStat, dbUser: string): string | undefined {
  if (st.type !== 'file') return `is not a regular file`;
  const mode = st.mode & 0o777;
  if (st.uid === 0) {
    if ((mode & 0o037) !== 0) return `is owned by root with mode ${formatMode(mode)}; root-owned keys must be 0640 or stricter`;
    return undefined;
  }
  if (role === 'postgres_server_key' && st.owner !== dbUser) return `is owned by ${st.owner || st.uid}; it must be owned by ${dbUser} (0600) or by root (0640)`;
  if ((mode & 0o077) !== 0) return `has mode ${formatMode(mode)}; ${role === 'postgres_server_key' ? 'PostgreSQL' : 'libpq'} refuses a key with group or world access: chmod 0600`;
  return undefined;
}

export const verifyTask = defineTask({
  name: 'verify',
  args: verifyArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    const name = posix.basename(a.cert);
    const problems: string[] = [];
    const certText = await readText(ctx.probe, a.cert);
    if (certText === null) {
      // A dry run cannot verify a certificate that an earlier task has not made yet; it says so.
      if (ctx.check) return { changed: false, steps: [], reason: `not verified in a dry run: ${a.cert} does not exist yet (an earlier task would create it)` };
      return { changed: false, steps: [], failed: `${a.cert} does not exist` };
    }
    const certs = parseCertificates(certText);
    const leaf = certs[0];
    if (!leaf) return { changed: false, steps: [], failed: `${a.cert} holds no PEM certificate` };
    const facts: Record<string, unknown> = { subject: leaf.subject, issuer: leaf.issuer, days_left: daysLeft(leaf), fingerprint_sha256: leaf.fingerprintSha256 };

    if (a.key !== undefined) {
      const k = await remotePublicKey(ctx.probe, a.key);
      if (!k.ok) problems.push(`${a.key}: ${k.error}`);
      else if (!publicKeyMatches(leaf, k.key)) problems.push(`${posix.basename(a.key)} does not match ${name} (different public keys): install the certificate issued for this key, or the key it was issued for`);
    }
    if (a.cn !== undefined && leaf.cn !== a.cn) problems.push(`${name} has CN=${leaf.cn ?? '(none)'}, expected CN=${a.cn}: with cert auth the CN must equal the database user; reissue it`);
    if (a.min_days !== undefined && daysLeft(leaf) < a.min_days) {
      problems.push(`${name} has ${daysLeft(leaf)} days left (expires ${leaf.notAfter.toISOString()}), fewer than ${a.min_days}: renew it`);
    }
    if (a.ca_bundle !== undefined) {
      const filesProbe = a.files_host !== undefined ? await ctx.probeHost(a.files_host) : ctx.probe;
      const bundle = await readText(filesProbe, a.ca_bundle);
      const crlCheck = a.crl_check ?? a.crl !== undefined;
      const crlText = crlCheck && a.crl !== undefined ? await readText(filesProbe, a.crl) : null;
      if (bundle === null) problems.push(`CA bundle ${a.ca_bundle} does not exist`);
      else if (crlCheck && a.crl !== undefined && crlText === null) problems.push(`CRL file ${a.crl} does not exist (with ssl_crl_file set, PostgreSQL refuses to start): create it or unset ssl_crl_file`);
      else {
        const v: PgVerdict = await postgresWouldAccept({
          leafChain: certText,
          trustAnchors: bundle,
          crls: crlCheck ? crlText : null,
          marginSeconds: a.crl_margin_days * 86400,
          crlFile: a.crl === undefined ? 'the CRL file' : posix.basename(a.crl),
        });
        facts.chain = v.chain;
        if (!v.ok) problems.push(`${name} would be refused with 'tlsv1 alert ${v.error}': ${v.detail}; ${FIX[v.reason] ?? 'fix the chain'}`);
      }
    }
    const modeTarget = a.key ?? a.cert;
    const st = a.role !== undefined || a.owner !== undefined || a.mode !== undefined ? await ctx.probe.stat(modeTarget) : null;
    if (st !== null) {
      if (a.role !== undefined) {
        const p = keyFileProblem(a.role, st, a.db_user ?? a.owner ?? 'postgres');
        if (p !== undefined) problems.push(`${modeTarget} ${p}`);
      }
      if (a.owner !== undefined && a.owner !== st.owner && a.owner !== String(st.uid)) problems.push(`${modeTarget} is owned by ${st.owner || st.uid}, expected ${a.owner}: chown ${a.owner}`);
      if (a.mode !== undefined && (st.mode & 0o7777) !== a.mode) problems.push(`${modeTarget} has mode ${formatMode(st.mode)}, expected ${formatMode(a.mode)}: chmod ${formatMode(a.mode)}`);
    }
    if (problems.length > 0) return { changed: false, steps: [], failed: problems.join('; '), result: facts };
    const parts = [a.ca_bundle !== undefined ? `chain OK to ${(facts.chain as string[] | undefined)?.at(-1) ?? 'the bundle'}` : '', a.key !== undefined ? 'key matches' : '', `${daysLeft(leaf)} days left`];
    return noChange(`${name}: ${parts.filter(Boolean).join(', ')}`, facts);
  },
});
