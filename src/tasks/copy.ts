/**
 * `copy`: put content (inline `content`, or a controller file `src`) at `dest` on the host.
 * Idempotent by sha256 + mode + owner/group; when only attributes differ it changes them without
 * rewriting. Writes are atomic, after a backup into the run's backup directory. Diffs are shown for
 * text only, never for secret content (`secret: true`, or anything that looks like a private key).
 * Rollback restores the old file from its backup (or removes a file that did not exist before).
 * `src` is read on the controller as given; the runner resolves relative paths against the playbook.
 */
import { isAbsolute, posix, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { defineTask } from './types.js';
import { boolArg, modeArg, ownerArg, pathArg } from './lib/args.js';
import { snapshotFile } from './lib/files.js';
import { planWrite, rollbackWrite } from './lib/write.js';
import { controllerIsDirectory, readControllerFile } from './lib/controller.js';
import { describeAttrs } from './lib/attrs.js';

export const copyArgs = z
  .strictObject({
    content: z.string().optional(),
    src: pathArg.optional(),
    dest: pathArg,
    mode: modeArg.optional(),
    owner: ownerArg.optional(),
    group: ownerArg.optional(),
    backup: boolArg.default(false),
    secret: boolArg.default(false),
    /** Ansible's `force: no`: only write when dest does not exist. */
    force: boolArg.default(true),
  })
  .refine((a) => (a.content === undefined) !== (a.src === undefined), { error: 'give exactly one of content or src' });

export const copyTask = defineTask({
  name: 'copy',
  aliases: ['ansible.builtin.copy'],
  args: copyArgs,
  async plan(ctx) {
    const a = ctx.args;
    let content: Buffer;
    let dest = a.dest;
    if (a.src !== undefined) {
      // Relative controller paths are relative to the playbook's directory, as in Ansible.
      const base = typeof ctx.host.vars.playbook_dir === 'string' ? ctx.host.vars.playbook_dir : process.cwd();
      const src = isAbsolute(a.src) ? a.src : resolvePath(base, a.src);
      if (await controllerIsDirectory(src)) {
        return { changed: false, steps: [], failed: `src ${a.src} is a directory; copying directories is not supported, copy its files` };
      }
      const data = await readControllerFile(src);
      if (data === null) {
        // In a dry run an earlier task (genkey/sign delegated to localhost) may be what creates src.
        if (ctx.check) return { changed: true, reason: `would copy ${a.src} to ${dest}`, steps: [], dependsOn: `the task that creates ${a.src} on the controller` };
        return { changed: false, steps: [], failed: `src ${a.src} does not exist on the controller` };
      }
      content = data;
      const destStat = dest.endsWith('/') ? null : await ctx.probe.stat(dest);
      if (dest.endsWith('/') || destStat?.type === 'directory') dest = posix.join(dest, posix.basename(a.src));
    } else {
      content = Buffer.from(a.content ?? '', 'utf8');
      if (dest.endsWith('/')) return { changed: false, steps: [], failed: `dest ${dest} names a directory; with content, give the file's path` };
    }
    const snap = await snapshotFile(ctx.probe, dest, ctx.backupDir, ctx.taskKey);
    if (!a.force && snap.stat !== null) {
      return { changed: false, reason: `${dest} exists and force is off (${describeAttrs(snap.stat)})`, steps: [] };
    }
    const want = {
      path: dest,
      content,
      mode: a.mode,
      owner: a.owner,
      group: a.group,
      secret: a.secret,
      backupCopy: a.backup ? `${dest}.${ctx.runId}~` : undefined,
    };
    return planWrite(ctx, snap, want, {
      change: snap.stat === null ? `create ${dest}` : `replace ${dest}`,
      ok: snap.stat === null ? `${dest} is absent` : `${dest} already has this content (${describeAttrs(snap.stat)})`,
    });
  },
  rollback: rollbackWrite,
});
