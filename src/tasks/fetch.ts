/**
 * `fetch`: copy a file from the host to the controller, to `dest/<host>/<src path>` (or exactly
 * `dest` with `flat: true`; a `dest` ending in '/' then gets the file's base name). Idempotent by
 * sha256 of the controller copy. The controller write is the apply (a call step), atomic and with
 * the source's mode narrowed to owner-writable (a fetched key stays 0600). Rollback removes the
 * fetched file if it did not exist before, or puts the previous controller copy back.
 */
import { join, posix } from 'node:path';
import { z } from 'zod';
import { defineTask } from './types.js';
import type { Step } from './steps.js';
import { boolArg, pathArg } from './lib/args.js';
import { sha256 } from './lib/files.js';
import { looksSecret } from './lib/secret.js';
import { readControllerFile, removeControllerFile, writeControllerFileAtomic } from './lib/controller.js';
import { TaskError } from '../errors.js';

export const fetchArgs = z.strictObject({
  src: pathArg,
  dest: pathArg,
  flat: boolArg.default(false),
  fail_on_missing: boolArg.default(true),
});

interface FetchUndo {
  dest: string;
  existed: boolean;
  /** Controller copy of the previous dest content. */
  previous?: string;
}

/** Where the fetched file lands on the controller. */
export function fetchDestination(host: string, src: string, dest: string, flat: boolean): string {
  if (flat) return dest.endsWith('/') ? join(dest, posix.basename(src)) : dest;
  return join(dest, host, posix.resolve('/', src));
}

export const fetchTask = defineTask({
  name: 'fetch',
  aliases: ['ansible.builtin.fetch'],
  args: fetchArgs,
  async plan(ctx) {
    const a = ctx.args;
    const dest = fetchDestination(ctx.host.name, a.src, a.dest, a.flat);
    const stat = await ctx.probe.stat(a.src);
    if (stat === null) {
      if (a.fail_on_missing) return { changed: false, steps: [], failed: `${a.src} does not exist on ${ctx.host.name}` };
      return { changed: false, reason: `${a.src} does not exist on ${ctx.host.name} (fail_on_missing is off)`, steps: [] };
    }
    if (stat.type === 'directory') return { changed: false, steps: [], failed: `${a.src} is a directory; fetch copies files` };
    const remote = await ctx.probe.readFile(a.src);
    if (remote === null) return { changed: false, steps: [], failed: `${a.src} could not be read on ${ctx.host.name}` };
    const sum = sha256(remote);
    const local = await readControllerFile(dest);
    const result = { src: a.src, dest, checksum: sum };
    if (local !== null && sha256(local) === sum) {
      return { changed: false, reason: `${dest} already has the content of ${ctx.host.name}:${a.src} (sha256 ${sum.slice(0, 12)})`, steps: [], result };
    }
    const undo: FetchUndo = { dest, existed: local !== null };
    if (local !== null) undo.previous = join(ctx.runDir, 'fetch-backup', ctx.taskKey, posix.resolve('/', dest));
    const mode = (stat.mode & 0o644) | 0o600;
    const secret = looksSecret(remote);
    const src = a.src;
    const step: Step = {
      kind: 'call',
      label: `fetch ${ctx.host.name}:${src} to ${dest}`,
      async run(api) {
        const data = await api.conn.readFile(src);
        if (data === null) throw new TaskError(`${src} disappeared before it could be fetched`, { host: api.conn.host });
        if (secret) api.addSecret(data.toString('utf8'));
        if (undo.previous !== undefined) {
          const prev = await readControllerFile(dest);
          if (prev !== null) await writeControllerFileAtomic(undo.previous, prev, 0o600);
        }
        await writeControllerFileAtomic(dest, data, mode);
        return { dest, checksum: sha256(data) };
      },
    };
    return {
      changed: true,
      reason: `${local === null ? 'fetch' : 'refetch'} ${a.src} to ${dest}`,
      steps: [step],
      undo: undo as unknown as Record<string, unknown>,
      result,
    };
  },
  rollback(undoData) {
    const u = undoData as unknown as FetchUndo;
    if (!u.existed) {
      return [{ kind: 'call', label: `remove fetched ${u.dest} on the controller`, run: async () => removeControllerFile(u.dest) }];
    }
    const previous = u.previous;
    if (previous === undefined) return [];
    return [
      {
        kind: 'call',
        label: `put back the previous ${u.dest} on the controller`,
        async run() {
          const data = await readControllerFile(previous);
          if (data === null) throw new TaskError(`the previous copy of ${u.dest} (${previous}) is missing; cannot restore it`);
          await writeControllerFileAtomic(u.dest, data, 0o600);
        },
      },
    ];
  },
});
