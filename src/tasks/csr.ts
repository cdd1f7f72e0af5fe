/**
 * `csr`: a certificate signing request made on the target host from its own key (`openssl req
 * -new -key ... -subj ... -batch`), written atomically to `path`; the registered result holds the
 * CSR PEM (public). Idempotent: an existing CSR with the same subject and SANs whose public key is
 * the key's is kept. In check mode, a key that an earlier genkey would create gives `dependsOn`.
 * Rollback restores the previous CSR from its backup (or removes the new one).
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { defineTask } from './types.js';
import type { Plan, UndoData } from './types.js';
import type { Step } from './steps.js';
import { modeArg, ownerArg, pathArg } from './lib/args.js';
import { restoreFileSteps, snapshotFile } from './lib/files.js';
import type { FileUndo } from './lib/files.js';
import { readText, remotePublicKey } from './lib/openssl.js';
import { formatSan, parseCsr, parseSan, verifyCsr } from '../pki/csr.js';
import { formatSlash, namesEqual, parseSubject } from '../pki/names.js';
import { spkiDer } from '../pki/keys.js';
import { isFleetError } from '../errors.js';

const subjectArg = z.union([z.string().min(1), z.record(z.string(), z.string())]).superRefine((v, ctx) => {
  try {
    parseSubject(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: isFleetError(e) ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : String(e) });
  }
});

const sanArg = z.string().min(1).superRefine((v, ctx) => {
  if (v.includes(',')) ctx.addIssue({ code: 'custom', message: `SAN "${v}" must not contain a comma; give one name per list item` });
  try {
    parseSan(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const csrArgs = z.strictObject({
  key: pathArg,
  path: pathArg,
  subject: subjectArg,
  san: z.array(sanArg).optional(),
  owner: ownerArg.optional(),
  group: ownerArg.optional(),
  mode: modeArg.default(0o644),
});

/** The capture name of the CSR's PEM. */
export const CSR_CAPTURE = 'csr';

export const csrTask = defineTask({
  name: 'csr',
  args: csrArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    const rdns = parseSubject(a.subject);
    const subj = formatSlash(rdns);
    const sans = (a.san ?? []).map(parseSan);
    const keyStat = await ctx.probe.stat(a.key);
    if (keyStat === null) {
      if (ctx.check) return { changed: true, reason: `would create CSR ${a.path} for ${subj}`, steps: [], dependsOn: `the task that generates ${a.key}` };
      return { changed: false, steps: [], failed: `key ${a.key} does not exist; generate it first (genkey path: ${a.key})` };
    }
    const key = await remotePublicKey(ctx.probe, a.key);
    if (!key.ok) return { changed: false, steps: [], failed: `cannot use ${a.key} for a CSR: ${key.error}` };
    const snap = await snapshotFile(ctx.probe, a.path, ctx.backupDir, ctx.taskKey);
    if (snap.stat !== null && snap.stat.type !== 'file') return { changed: false, steps: [], failed: `${a.path} exists and is not a regular file` };
    let why = `create CSR ${a.path} for ${subj}`;
    const existing = snap.stat !== null ? await readText(ctx.probe, a.path) : null;
    if (existing !== null) {
      try {
        const cur = parseCsr(existing);
        const sameKey = cur.spki.equals(spkiDer(key.key));
        const sameSubj = namesEqual(cur.subjectRdns, rdns);
        const sameSan = cur.san.map(formatSan).sort().join(',') === sans.map(formatSan).sort().join(',');
        if (sameKey && sameSubj && sameSan && (await verifyCsr(existing))) {
          return { changed: false, reason: `CSR ${a.path} for ${subj} matches ${a.key}`, steps: [], result: { csr: cur.pem, subject: subj, path: a.path } };
        }
        why = `replace CSR ${a.path}: ${!sameKey ? 'it is for another key' : !sameSubj ? `its subject is ${cur.subject}` : !sameSan ? 'its SANs differ' : 'its signature is invalid'}`;
      } catch {
        why = `replace ${a.path}: it is not a readable CSR`;
      }
    }
    const argv = ['openssl', 'req', '-new', '-utf8', '-batch', '-key', a.key, '-subj', subj, '-passin', 'pass:'];
    if (sans.length > 0) argv.push('-addext', `subjectAltName=${sans.map(formatSan).join(',')}`);
    const steps: Step[] = [
      ...snap.steps,
      { kind: 'exec', argv, capture: CSR_CAPTURE, label: `openssl req -new -key ${a.key} -subj ${subj}` },
      {
        kind: 'write',
        path: a.path,
        contentFrom: CSR_CAPTURE,
        mode: a.mode,
        ...(a.owner !== undefined ? { owner: a.owner } : {}),
        ...(a.group !== undefined ? { group: a.group } : {}),
      },
      { kind: 'call', label: `register the CSR of ${posix.basename(a.path)}`, run: async (api) => ({ csr: api.captures.get(CSR_CAPTURE) ?? '' }) },
    ];
    return {
      changed: true,
      reason: why,
      steps,
      undo: { file: snap.undo } as unknown as UndoData,
      result: { subject: subj, path: a.path },
    };
  },
  rollback(undo): Step[] {
    return restoreFileSteps((undo as unknown as { file: FileUndo }).file);
  },
});
