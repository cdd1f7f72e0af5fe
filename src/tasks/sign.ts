/**
 * `sign`: turn the CSR at `csr` on the target host into the certificate at `dest`, with one of
 * three CAs. A CA on an inventory host: the CSR travels there on stdin, openssl signs it there
 * (random 128-bit serial, extensions from a private temp file), the certificate comes back; the CA
 * key never moves. A CA whose files the controller holds: signed by pki/sign.ts in a call step.
 * An external CA: the CSR is exported to a controller directory and the run waits until the
 * signed certificate is dropped there (`fleetplay resume <run-id>`).
 * Idempotent: a dest that chains to the CA, carries the CSR's public key and has more than
 * `renew_days` left is kept. Writes are atomic; rollback restores the previous certificate.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { defineTask } from './types.js';
import type { Plan, UndoData } from './types.js';
import type { Step, WriteStep } from './steps.js';
import { boolArg, modeArg, ownerArg, pathArg } from './lib/args.js';
import { restoreFileSteps, snapshotFile } from './lib/files.js';
import type { FileUndo } from './lib/files.js';
import { leafExtfile, readText, remotePublicKey, signOnHostArgv } from './lib/openssl.js';
import { readControllerFile, writeControllerFileAtomic } from './lib/controller.js';
import { parseCsr, verifyCsr } from '../pki/csr.js';
import type { CsrInfo } from '../pki/csr.js';
import { daysLeft, nodeCert, parseCertificates, publicKeyMatches } from '../pki/inspect.js';
import type { CertInfo } from '../pki/inspect.js';
import { verifyChain } from '../pki/chain.js';
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { parsePrivateKey } from '../pki/keys.js';
import { issueCertificate, randomSerialHex } from '../pki/sign.js';
import { TaskError } from '../errors.js';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'an environment variable name' });

export const signArgs = z.strictObject({
  csr: pathArg,
  dest: pathArg,
  days: z.coerce.number().int().positive().default(365),
  usage: z.enum(['client', 'server', 'both']).default('client'),
  copy_san: boolArg.default(false),
  chain: boolArg.default(false),
  renew_days: z.coerce.number().int().nonnegative().default(30),
  owner: ownerArg.optional(),
  group: ownerArg.optional(),
  mode: modeArg.default(0o644),
  ca: z.union([
    z.strictObject({ host: z.string().min(1), cert: pathArg, key: pathArg }),
    z.strictObject({ cert: pathArg, key: pathArg, key_passphrase_env: envName.optional() }),
    z.strictObject({ external: pathArg }),
  ]),
});
type SignArgs = z.infer<typeof signArgs>;

/** The capture name of the signed certificate (plus chain). */
export const CERT_CAPTURE = 'cert';

/** Whether `leaf` was issued by one of `cas` (directly, or through a chain to them). */
export function issuedBy(leafFile: string, cas: CertInfo[]): CertInfo | undefined {
  const leaf = parseCertificates(leafFile)[0];
  if (!leaf) return undefined;
  const n = nodeCert(leaf);
  const direct = cas.find((ca) => n.checkIssued(nodeCert(ca)) && n.verify(nodeCert(ca).publicKey));
  if (direct) return direct;
  const v = verifyChain({ leaf: leafFile, trustAnchors: cas });
  return v.ok ? v.certs[v.certs.length - 1] : undefined;
}

function writeDest(a: SignArgs, from: { contentFrom: string } | { content: string }): WriteStep {
  return {
    kind: 'write',
    path: a.dest,
    ...from,
    mode: a.mode,
    ...(a.owner !== undefined ? { owner: a.owner } : {}),
    ...(a.group !== undefined ? { group: a.group } : {}),
  };
}

/** Keep dest when it is already right. */
function upToDate(a: SignArgs, dest: string | null, csr: CsrInfo, cas: CertInfo[]): string | undefined {
  if (dest === null || cas.length === 0) return undefined;
  const leaf = parseCertificates(dest)[0];
  if (!leaf) return undefined;
  const ca = issuedBy(dest, cas);
  if (!ca) return undefined;
  const spki = nodeCert(leaf).publicKey.export({ type: 'spki', format: 'der' });
  if (!csr.spki.equals(spki)) return undefined;
  const left = daysLeft(leaf);
  if (left <= a.renew_days) return undefined;
  return `${posix.basename(a.dest)} already issued by ${ca.cn ?? ca.subject}, ${left} days left`;
}

export const signTask = defineTask({
  name: 'sign',
  args: signArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    const csrText = await readText(ctx.probe, a.csr);
    if (csrText === null) {
      if (ctx.check) return { changed: true, reason: `would sign ${a.csr} into ${a.dest}`, steps: [], dependsOn: `the task that creates ${a.csr}` };
      return { changed: false, steps: [], failed: `CSR ${a.csr} does not exist; create it first (csr path: ${a.csr})` };
    }
    let csr: ReturnType<typeof parseCsr>;
    try {
      csr = parseCsr(csrText);
    } catch (e) {
      const binary = csrText.includes('\uFFFD') || /[\0-\x08\x0e-\x1f]/.test(csrText);
      return { changed: false, steps: [], failed: `${a.csr} on ${ctx.host.name} is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)${binary ? '; it looks binary (DER?): convert it with openssl req -inform DER -outform PEM' : ''}: ${(e as Error).message}` };
    }
    if (!(await verifyCsr(csrText))) return { changed: false, steps: [], failed: `CSR ${a.csr} has an invalid signature; recreate it from its key` };

    let caText: string | null = null;
    if ('host' in a.ca) {
      caText = await readText(await ctx.probeHost(a.ca.host), a.ca.cert);
      if (caText === null) return { changed: false, steps: [], failed: `CA certificate ${a.ca.cert} does not exist on ${a.ca.host}` };
    } else if ('cert' in a.ca) {
      const b = await readControllerFile(a.ca.cert);
      if (b === null) return { changed: false, steps: [], failed: `CA certificate ${a.ca.cert} does not exist on the controller` };
      caText = b.toString('utf8');
    }
    const cas = caText === null ? [] : parseCertificates(caText);
    const caFile = 'cert' in a.ca ? a.ca.cert : '';
    if (caText !== null && cas.length === 0) return { changed: false, steps: [], failed: `the CA certificate file ${caFile} holds no certificate` };
    const ca = cas[0];
    // A certificate signed by a CA outside its validity would be refused everywhere: stop before signing.
    const now = new Date();
    if (ca !== undefined && ca.notAfter < now) {
      return { changed: false, steps: [], failed: `CA certificate ${caFile} (${ca.subject}) expired on ${ca.notAfter.toISOString()}: renew the CA before signing with it` };
    }
    if (ca !== undefined && ca.notBefore > now) {
      return { changed: false, steps: [], failed: `CA certificate ${caFile} (${ca.subject}) is not yet valid (notBefore ${ca.notBefore.toISOString()}): check the clocks of the CA host and this controller` };
    }

    const snap = await snapshotFile(ctx.probe, a.dest, ctx.backupDir, ctx.taskKey);
    const destText = snap.content === null ? null : snap.content.toString('utf8');
    const keep = upToDate(a, destText, csr, cas);
    if (keep !== undefined) return { changed: false, reason: keep, steps: [], result: { dest: a.dest } };

    const undo = { file: snap.undo } as unknown as UndoData;
    const sans = a.copy_san ? csr.san : [];
    const appendCa = a.chain && ca !== undefined && !ca.selfIssued;
    const subject = csr.subject;

    if ('external' in a.ca) return planExternal(ctx.host.name, a, a.ca.external, csr, csrText, destText, snap.steps, undo, ctx.check, ctx.runId);

    if ('host' in a.ca) {
      // The CA key must be usable and belong to the CA certificate: checked on its host (only the
      // public key comes back), so a mismatch or a passphrase stops here, naming the file.
      const caKey = await remotePublicKey(await ctx.probeHost(a.ca.host), a.ca.key);
      if (!caKey.ok) return { changed: false, steps: [], failed: `CA key on ${a.ca.host}: ${caKey.error}` };
      if (ca !== undefined && !publicKeyMatches(ca, caKey.key)) {
        return { changed: false, steps: [], failed: `CA key ${a.ca.key} on ${a.ca.host} does not match the CA certificate ${a.ca.cert} (${ca.subject}): give the key the certificate was issued for` };
      }
      const serialHex = randomSerialHex();
      const argv = signOnHostArgv({
        caCert: a.ca.cert,
        caKey: a.ca.key,
        days: a.days,
        serialHex,
        extfile: leafExtfile(a.usage, sans, csr.key.type === 'rsa'),
        appendCa,
      });
      return {
        changed: true,
        reason: `sign ${subject} with ${ca?.cn ?? a.ca.cert} on ${a.ca.host}, ${a.days} days, into ${a.dest}`,
        steps: [
          ...snap.steps,
          { kind: 'exec', host: a.ca.host, argv, stdin: csr.pem, capture: CERT_CAPTURE, label: `sign ${subject} on ${a.ca.host} with ${a.ca.cert} (serial 0x${serialHex})` },
          writeDest(a, { contentFrom: CERT_CAPTURE }),
        ],
        undo,
        result: { dest: a.dest, serial: serialHex.toUpperCase(), issuer: ca?.subject },
      };
    }

    const caFiles = a.ca;
    const caCertText = caText ?? '';
    const call: Step = {
      kind: 'call',
      label: `sign ${subject} with the controller-held CA ${ca?.cn ?? caFiles.cert}, ${a.days} days`,
      async run(api) {
        const keyBytes = await readControllerFile(caFiles.key);
        if (keyBytes === null) throw new TaskError(`CA key ${caFiles.key} does not exist on the controller`, { hint: 'check the ca.key path' });
        const env = caFiles.key_passphrase_env;
        const passphrase = env === undefined ? undefined : process.env[env];
        if (env !== undefined && passphrase === undefined) {
          throw new TaskError(`environment variable ${env} (the CA key passphrase) is not set`, { hint: `export ${env} before running` });
        }
        const key = caKeyFor(keyBytes, passphrase, caFiles.key);
        const issued = await issueCertificate({ csrPem: csr.pem, ca: { certPem: caCertText, key }, days: a.days, usage: a.usage, copySan: a.copy_san });
        api.captures.set(CERT_CAPTURE, issued.certPem + (appendCa && ca ? ca.pem : ''));
        return { serial: issued.serialHex.toUpperCase(), not_after: issued.notAfter.toISOString() };
      },
    };
    return {
      changed: true,
      reason: `sign ${subject} with ${ca?.cn ?? caFiles.cert} (controller), ${a.days} days, into ${a.dest}`,
      steps: [...snap.steps, call, writeDest(a, { contentFrom: CERT_CAPTURE })],
      undo,
      result: { dest: a.dest, issuer: ca?.subject },
    };
  },
  rollback(undo): Step[] {
    return restoreFileSteps((undo as unknown as { file: FileUndo }).file);
  },
});

/** External CA: export the CSR; install the certificate once it is dropped next to it. */
async function planExternal(
  host: string,
  a: SignArgs,
  dir: string,
  csr: CsrInfo,
  csrText: string,
  destText: string | null,
  backup: Step[],
  undo: UndoData,
  check: boolean,
  runId: string,
): Promise<Plan> {
  const base = posix.basename(a.csr).replace(/\.(csr|req|pem)$/, '');
  const csrOut = posix.join(dir, `${host}-${base}.csr`);
  const crtIn = posix.join(dir, `${host}-${base}.crt`);
  const dropped = await readControllerFile(crtIn);
  if (dropped !== null) {
    const certs = parseCertificates(dropped);
    const leaf = certs[0];
    if (!leaf) return { changed: false, steps: [], failed: `${crtIn} holds no certificate; drop the PEM certificate the CA returned` };
    if (!nodeCert(leaf).publicKey.export({ type: 'spki', format: 'der' }).equals(csr.spki)) {
      return { changed: false, steps: [], failed: `${crtIn} is not for the key of ${a.csr} (its subject is ${leaf.subject}); drop the certificate issued for ${csrOut}` };
    }
    const content = certs.map((c) => c.pem).join('');
    if (destText !== null && destText === content) {
      return { changed: false, reason: `${posix.basename(a.dest)} is already the certificate from ${crtIn} (${daysLeft(leaf)} days left)`, steps: [], result: { dest: a.dest } };
    }
    return {
      changed: true,
      reason: `install ${crtIn} (issued by ${leaf.issuerCn ?? leaf.issuer}, ${daysLeft(leaf)} days left) as ${a.dest}`,
      steps: [...backup, writeDest(a, { content })],
      undo,
      result: { dest: a.dest, issuer: leaf.issuer, serial: leaf.serial },
    };
  }
  const waiting = `CSR written to ${csrOut}, drop the signed certificate at ${crtIn} and run fleetplay resume ${runId}`;
  if (check) return { changed: true, reason: `would export ${a.csr} to ${csrOut} and wait for ${crtIn}`, steps: [] };
  // The export is the one write a plan makes: it is on the controller, public, and is what waiting means.
  await writeControllerFileAtomic(csrOut, Buffer.from(csrText), 0o644);
  return { changed: false, steps: [], waiting, result: { csr_export: csrOut, expected_cert: crtIn } };
}

/**
 * A controller-held CA key, parsed once per run and content: every host's certificate is signed
 * with the same KeyObject, so pki's signing-key import (costlier than a signature for RSA-4096)
 * happens once instead of once per host. Keyed by a hash of the bytes and passphrase, never the
 * material itself.
 */
const caKeys = new Map<string, KeyObject>();
function caKeyFor(bytes: Buffer, passphrase: string | undefined, source: string): KeyObject {
  const id = createHash('sha256').update(bytes).update('\0').update(passphrase ?? '').digest('hex');
  let key = caKeys.get(id);
  if (key === undefined) {
    key = parsePrivateKey(bytes, { ...(passphrase !== undefined ? { passphrase } : {}), source });
    caKeys.set(id, key);
  }
  return key;
}
