/**
 * `genkey`: a private key generated on the target host by its own openssl (the key never crosses
 * the network). Idempotent: an existing key of the wanted type and size is kept ("key exists, RSA
 * 4096"), probed with `openssl pkey -pubout` so only public material reaches the controller.
 * `regenerate: never|mismatch|always` decides when an existing key is replaced. The new key is
 * written under umask 077 to a temp file in the same directory, given owner/mode, then renamed
 * over the old one. Rollback restores the old key from its backup (or removes the new one).
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { defineTask } from './types.js';
import type { Plan, UndoData } from './types.js';
import type { Step } from './steps.js';
import { modeArg, ownerArg, pathArg } from './lib/args.js';
import { restoreFileSteps, snapshotFile } from './lib/files.js';
import type { FileUndo } from './lib/files.js';
import { attrsStep, attrsToChange, attrsUndoOf, describeChange, hasChanges, restoreAttrsSteps } from './lib/attrs.js';
import type { AttrsUndo } from './lib/attrs.js';
import { genpkeyArgv, remotePublicKey, tempPathFor, underUmask } from './lib/openssl.js';
import type { KeyAlgo } from './lib/openssl.js';

export const genkeyArgs = z
  .strictObject({
    path: pathArg,
    type: z.enum(['rsa', 'ec']).default('rsa'),
    size: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]).optional(),
    curve: z.enum(['P-256', 'P-384']).optional(),
    regenerate: z.enum(['never', 'mismatch', 'always']).default('mismatch'),
    owner: ownerArg.optional(),
    group: ownerArg.optional(),
    mode: modeArg.default(0o600),
  })
  .refine((a) => !(a.type === 'rsa' && a.curve !== undefined) && !(a.type === 'ec' && a.size !== undefined), {
    error: 'size goes with type: rsa, curve with type: ec',
  });

type GenkeyUndo = { kind: 'file'; file: FileUndo; tmp: string } | { kind: 'attrs'; attrs: AttrsUndo[] };

function wanted(a: z.infer<typeof genkeyArgs>): { algo: KeyAlgo; label: string } {
  return a.type === 'rsa'
    ? { algo: { type: 'rsa', size: a.size ?? 4096 }, label: `RSA ${a.size ?? 4096}` }
    : { algo: { type: 'ec', curve: a.curve ?? 'P-256' }, label: `EC ${a.curve ?? 'P-256'}` };
}

export const genkeyTask = defineTask({
  name: 'genkey',
  args: genkeyArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    const { algo, label } = wanted(a);
    const want = { mode: a.mode, owner: a.owner, group: a.group };
    const snap = await snapshotFile(ctx.probe, a.path, ctx.backupDir, ctx.taskKey);
    if (snap.stat !== null && snap.stat.type !== 'file') {
      return { changed: false, steps: [], failed: `${a.path} exists and is not a regular file (${snap.stat.type})` };
    }
    let why = `generate ${label} key ${a.path}`;
    if (snap.stat !== null) {
      const cur = await remotePublicKey(ctx.probe, a.path);
      const matches = cur.ok && cur.desc.label === label;
      const keep = a.regenerate === 'never' || (a.regenerate === 'mismatch' && matches);
      if (keep) {
        const what = cur.ok ? cur.desc.label : 'unreadable';
        const result = { path: a.path, key: what, public_key: cur.ok ? cur.pem : undefined };
        const change = attrsToChange(snap.stat, want);
        if (!hasChanges(change)) return { changed: false, reason: `key exists, ${what}`, steps: [], result };
        return {
          changed: true,
          reason: `key exists, ${what}; ${describeChange(snap.stat, change)}`,
          steps: [attrsStep(a.path, change)],
          undo: { kind: 'attrs', attrs: [attrsUndoOf(snap.stat)] } satisfies GenkeyUndo as unknown as UndoData,
          result,
        };
      }
      why = cur.ok ? `replace ${cur.desc.label} key ${a.path} with a new ${label} key` : `replace ${a.path} (${cur.error}) with a new ${label} key`;
      if (a.regenerate === 'always') why = `regenerate ${label} key ${a.path} (regenerate: always)`;
    } else {
      const dir = posix.dirname(a.path);
      if ((await ctx.probe.stat(dir)) === null) {
        if (ctx.check) return { changed: true, reason: `would generate ${a.path}`, steps: [], dependsOn: `an earlier task that creates ${dir}` };
        return { changed: false, steps: [], failed: `cannot create ${a.path}: directory ${dir} does not exist (create it first with a file task, state: directory, mode '0700')` };
      }
    }
    const tmp = tempPathFor(a.path, ctx.runId, ctx.taskKey);
    const steps: Step[] = [
      ...snap.steps,
      { kind: 'remove', path: tmp, label: `remove a stale temp file ${tmp}` },
      { kind: 'exec', argv: underUmask(genpkeyArgv(algo, tmp)), label: `generate a ${label} key into ${tmp} (umask 077)` },
      attrsStep(tmp, want),
      { kind: 'rename', from: tmp, to: a.path },
    ];
    return {
      changed: true,
      reason: why,
      steps,
      undo: { kind: 'file', file: snap.undo, tmp } satisfies GenkeyUndo as unknown as UndoData,
      diff: [{ path: a.path, before: '', after: '', secret: true }],
      result: { path: a.path, key: label },
    };
  },
  rollback(undo): Step[] {
    const u = undo as unknown as GenkeyUndo;
    if (u.kind === 'attrs') return restoreAttrsSteps(u.attrs);
    return [{ kind: 'remove', path: u.tmp, label: `remove the temp file ${u.tmp}` }, ...restoreFileSteps(u.file)];
  },
});
