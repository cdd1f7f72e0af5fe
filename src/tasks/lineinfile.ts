/**
 * `lineinfile`: make sure one line is present (replacing the line `regexp` matches, or inserting
 * it) or absent, with Ansible's semantics (insertafter/insertbefore, backrefs, firstmatch, create).
 * Extras: `comment_out: true` prefixes every uncommented line matching `regexp` with '#' (e.g.
 * `ssl_crl_file` in postgresql.conf) and `uncomment: true` undoes that. Idempotent; the write is
 * atomic after a backup, with a diff; rollback restores the file from the backup.
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import { boolArg, modeArg, ownerArg, pathArg, scalarArg, withAliases } from './lib/args.js';
import { snapshotFile } from './lib/files.js';
import { planTextEdit, rollbackWrite } from './lib/write.js';
import { editLines, pyRegExp } from './lib/lineedit.js';

function validRegexp(v: string | undefined): boolean {
  if (v === undefined) return true;
  try {
    pyRegExp(v);
    return true;
  } catch {
    return false;
  }
}

export const lineinfileArgs = withAliases(
  { dest: 'path', destfile: 'path', name: 'path', regex: 'regexp', value: 'line' },
  z
    .strictObject({
      path: pathArg,
      regexp: z.string().min(1).optional(),
      search_string: z.string().min(1).optional(),
      line: scalarArg.optional(),
      state: z.enum(['present', 'absent']).default('present'),
      insertafter: z.string().min(1).optional(),
      insertbefore: z.string().min(1).optional(),
      create: boolArg.default(false),
      backrefs: boolArg.default(false),
      firstmatch: boolArg.default(false),
      comment_out: boolArg.default(false),
      uncomment: boolArg.default(false),
      mode: modeArg.optional(),
      owner: ownerArg.optional(),
      group: ownerArg.optional(),
      backup: boolArg.default(false),
    })
    .refine((a) => validRegexp(a.regexp), { error: 'regexp is not a valid regular expression', path: ['regexp'] })
    .refine((a) => a.insertafter === undefined || a.insertbefore === undefined, { error: 'give insertafter or insertbefore, not both' })
    .refine((a) => a.regexp === undefined || a.search_string === undefined, { error: 'give regexp or search_string, not both' })
    .refine((a) => !(a.comment_out && a.uncomment), { error: 'give comment_out or uncomment, not both' })
    .refine((a) => !(a.comment_out || a.uncomment) || (a.regexp !== undefined && a.line === undefined && a.state === 'present'), {
      error: 'comment_out/uncomment need regexp (the lines to change) and no line',
    })
    .refine((a) => !a.backrefs || a.regexp !== undefined, { error: 'backrefs needs regexp', path: ['backrefs'] })
    .refine((a) => a.comment_out || a.uncomment || a.state === 'absent' || a.line !== undefined, { error: 'state: present needs line', path: ['line'] })
    .refine((a) => a.state === 'present' || a.regexp !== undefined || a.search_string !== undefined || a.line !== undefined, {
      error: 'state: absent needs regexp, search_string or line',
    }),
);

export const lineinfileTask = defineTask({
  name: 'lineinfile',
  aliases: ['ansible.builtin.lineinfile'],
  args: lineinfileArgs,
  async plan(ctx) {
    const a = ctx.args;
    const snap = await snapshotFile(ctx.probe, a.path, ctx.backupDir, ctx.taskKey);
    if (snap.stat === null) {
      if (a.state === 'absent' || a.comment_out || a.uncomment) {
        return { changed: false, reason: `${a.path} does not exist; nothing to change`, steps: [] };
      }
      if (!a.create) return { changed: false, steps: [], failed: `${a.path} does not exist (set create: true to create it)` };
    } else if (snap.stat.type !== 'file') {
      return { changed: false, steps: [], failed: `${a.path} is a ${snap.stat.type}, not a regular file` };
    }
    const before = snap.content === null ? '' : snap.content.toString('utf8');
    const edit = editLines(before, { ...a });
    return planTextEdit(ctx, snap, a, edit);
  },
  rollback: rollbackWrite,
});
