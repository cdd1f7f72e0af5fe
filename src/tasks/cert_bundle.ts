/**
 * `cert_bundle`: make sure a CA bundle on the host (e.g. PostgreSQL's root.crt) holds the
 * certificates in `certs` (files on the same host), appending the missing ones and keeping every
 * certificate already there, in order. That is the dual-trust step of a CA rollover: old CA + new
 * CA, so certificates from either are accepted. Idempotent by certificate fingerprint; the write is
 * atomic after a backup; rollback restores the previous bundle. In check mode a certificate that
 * an earlier task would create gives `dependsOn`.
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import type { Plan } from './types.js';
import { modeArg, ownerArg, pathArg } from './lib/args.js';
import { snapshotFile } from './lib/files.js';
import { planWrite, rollbackWrite } from './lib/write.js';
import { readText } from './lib/openssl.js';
import { parseCertificates } from '../pki/inspect.js';

export const certBundleArgs = z.strictObject({
  path: pathArg,
  certs: z.array(pathArg).min(1),
  owner: ownerArg.optional(),
  group: ownerArg.optional(),
  mode: modeArg.optional(),
});

/** The bundle text with `add` appended after `existing` (a newline between them when needed). */
export function appendPems(existing: string, add: readonly string[]): string {
  if (add.length === 0) return existing;
  const head = existing === '' || existing.endsWith('\n') ? existing : `${existing}\n`;
  return head + add.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
}

export const certBundleTask = defineTask({
  name: 'cert_bundle',
  args: certBundleArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    const wanted: { pem: string; fp: string; name: string }[] = [];
    for (const p of a.certs) {
      const text = await readText(ctx.probe, p);
      if (text === null) {
        if (ctx.check) return { changed: true, reason: `would add ${p} to ${a.path}`, steps: [], dependsOn: `the task that creates ${p}` };
        return { changed: false, steps: [], failed: `${p} does not exist` };
      }
      const certs = parseCertificates(text);
      if (certs.length === 0) return { changed: false, steps: [], failed: `${p} holds no PEM certificate` };
      for (const c of certs) wanted.push({ pem: c.pem, fp: c.fingerprintSha256, name: c.cn ?? c.subject });
    }
    const snap = await snapshotFile(ctx.probe, a.path, ctx.backupDir, ctx.taskKey);
    if (snap.stat !== null && snap.stat.type !== 'file') return { changed: false, steps: [], failed: `${a.path} is a ${snap.stat.type}, not a regular file` };
    const existingText = snap.content === null ? '' : snap.content.toString('utf8');
    const have = new Set(parseCertificates(existingText).map((c) => c.fingerprintSha256));
    const missing = wanted.filter((w, i) => !have.has(w.fp) && wanted.findIndex((x) => x.fp === w.fp) === i);
    const content = appendPems(existingText, missing.map((m) => m.pem));
    const names = missing.map((m) => m.name).join(', ');
    return planWrite(
      ctx,
      snap,
      { path: a.path, content: Buffer.from(content, 'utf8'), mode: a.mode, owner: a.owner, group: a.group },
      {
        change: missing.length > 0 ? `add ${names} to ${a.path} (${have.size} certificate(s) kept)` : `${a.path}: set attributes`,
        ok: `${a.path} already holds the ${wanted.length} certificate(s)`,
      },
    );
  },
  rollback: rollbackWrite,
});
