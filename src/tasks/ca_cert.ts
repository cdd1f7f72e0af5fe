/**
 * `ca_cert`: a self-signed CA certificate made on the host from a key on the host (`openssl req
 * -x509 -new -key ...`, non-interactive, CA:TRUE, keyCertSign + cRLSign, random serial), written
 * atomically to `path`. This is how PEM's own CA (ca_certificate.crt) is made and renewed; the key
 * never leaves the host. Idempotent: an existing certificate at `path` for the same key and subject,
 * CA:TRUE and with more than `renew_days` left, is kept. In check mode a key that an earlier genkey
 * would create gives `dependsOn`. `fingerprint_sha256` is registered only once the certificate
 * exists (kept, or made by the apply), so later tasks that read the new CA can depend on it. Rollback restores the previous certificate (or removes the new one).
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import type { Plan, UndoData } from './types.js';
import type { Step } from './steps.js';
import { modeArg, ownerArg, pathArg } from './lib/args.js';
import { restoreFileSteps, snapshotFile } from './lib/files.js';
import type { FileUndo } from './lib/files.js';
import { remotePublicKey } from './lib/openssl.js';
import { daysLeft, nodeCert, parseCertificates } from '../pki/inspect.js';
import { formatSlash, namesEqual, parseSubject } from '../pki/names.js';
import { spkiDer } from '../pki/keys.js';
import { randomSerialHex } from '../pki/sign.js';

export const caCertArgs = z.strictObject({
  key: pathArg,
  path: pathArg,
  subject: z.union([z.string().min(1), z.record(z.string(), z.string())]),
  days: z.coerce.number().int().positive().default(3650),
  renew_days: z.coerce.number().int().nonnegative().default(30),
  owner: ownerArg.optional(),
  group: ownerArg.optional(),
  mode: modeArg.default(0o644),
});

/** The capture name of the new certificate. */
export const CA_CERT_CAPTURE = 'ca_cert';

/** `openssl req -x509` for a self-signed CA certificate, printed on stdout. */
export function selfSignedCaArgv(o: { key: string; subject: string; days: number; serialHex: string }): string[] {
  return [
    'openssl', 'req', '-x509', '-new', '-utf8', '-batch', '-sha256',
    '-key', o.key, '-subj', o.subject, '-days', String(o.days), '-set_serial', `0x${o.serialHex}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-passin', 'pass:',
  ];
}

export const caCertTask = defineTask({
  name: 'ca_cert',
  args: caCertArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    const rdns = parseSubject(a.subject);
    const subj = formatSlash(rdns);
    if ((await ctx.probe.stat(a.key)) === null) {
      if (ctx.check) return { changed: true, reason: `would make CA certificate ${a.path} for ${subj}`, steps: [], dependsOn: `the task that generates ${a.key}` };
      return { changed: false, steps: [], failed: `key ${a.key} does not exist; generate it first (genkey path: ${a.key})` };
    }
    const key = await remotePublicKey(ctx.probe, a.key);
    if (!key.ok) return { changed: false, steps: [], failed: `cannot use ${a.key} for a CA certificate: ${key.error}` };
    const snap = await snapshotFile(ctx.probe, a.path, ctx.backupDir, ctx.taskKey);
    if (snap.stat !== null && snap.stat.type !== 'file') return { changed: false, steps: [], failed: `${a.path} exists and is not a regular file` };

    let why = `make self-signed CA certificate ${a.path} for ${subj}, ${a.days} days`;
    const cur = snap.content === null ? undefined : parseCertificates(snap.content.toString('utf8'))[0];
    if (cur !== undefined) {
      const sameKey = nodeCert(cur).publicKey.export({ type: 'spki', format: 'der' }).equals(spkiDer(key.key));
      const sameSubject = namesEqual(cur.subjectRdns, rdns);
      const left = daysLeft(cur);
      if (sameKey && sameSubject && cur.isCA && cur.selfIssued && left > a.renew_days) {
        return {
          changed: false,
          reason: `${a.path} is already the CA certificate of ${a.key} for ${subj}, ${left} days left`,
          steps: [],
          result: { path: a.path, subject: cur.subject, fingerprint_sha256: cur.fingerprintSha256 },
        };
      }
      why = `replace ${a.path} (${!sameKey ? 'it is for another key' : !sameSubject ? `its subject is ${cur.subject}` : !cur.isCA ? 'it is not a CA' : `${left} days left`}) with a self-signed CA certificate for ${subj}`;
    }
    const serialHex = randomSerialHex();
    const steps: Step[] = [
      ...snap.steps,
      { kind: 'exec', argv: selfSignedCaArgv({ key: a.key, subject: subj, days: a.days, serialHex }), capture: CA_CERT_CAPTURE, label: `openssl req -x509 -new -key ${a.key} -subj ${subj} (CA:TRUE, serial 0x${serialHex})` },
      {
        kind: 'write',
        path: a.path,
        contentFrom: CA_CERT_CAPTURE,
        mode: a.mode,
        ...(a.owner !== undefined ? { owner: a.owner } : {}),
        ...(a.group !== undefined ? { group: a.group } : {}),
      },
      {
        kind: 'call',
        label: `register the facts of the new ${a.path}`,
        async run(api) {
          const made = parseCertificates(api.captures.get(CA_CERT_CAPTURE) ?? '')[0];
          return made ? { subject: made.subject, fingerprint_sha256: made.fingerprintSha256, not_after: made.notAfter.toISOString() } : {};
        },
      },
    ];
    return { changed: true, reason: why, steps, undo: { file: snap.undo } as unknown as UndoData, result: { path: a.path, subject: subj } };
  },
  rollback(undo): Step[] {
    return restoreFileSteps((undo as unknown as { file: FileUndo }).file);
  },
});
