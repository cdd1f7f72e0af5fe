/**
 * `ini` (Ansible's `ini_file`): set or remove one option in one section of an INI file, e.g.
 * agent.cfg `[PEM/agent] agent_ssl_key=...`. Every other line, comment and the order stay byte for
 * byte, and the file's existing `option = value` or `option=value` style is kept. Idempotent; the
 * write is atomic after a backup, with a diff; rollback restores the file from the backup.
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import { boolArg, modeArg, ownerArg, pathArg, scalarArg, withAliases } from './lib/args.js';
import { snapshotFile } from './lib/files.js';
import { planTextEdit, rollbackWrite } from './lib/write.js';
import { editIni } from './lib/iniedit.js';

export const iniArgs = withAliases(
  { dest: 'path' },
  z
    .strictObject({
      path: pathArg,
      section: z.string().min(1).nullable().optional(),
      option: z.string().min(1).regex(/^[^=:\s#;[]/, { error: 'invalid option name' }),
      value: scalarArg.optional(),
      state: z.enum(['present', 'absent']).default('present'),
      create: boolArg.default(true),
      no_extra_spaces: boolArg.default(false),
      mode: modeArg.optional(),
      owner: ownerArg.optional(),
      group: ownerArg.optional(),
      backup: boolArg.default(false),
    })
    .refine((a) => a.state === 'absent' || a.value !== undefined, { error: 'state: present needs value', path: ['value'] }),
);

export const iniTask = defineTask({
  name: 'ini',
  aliases: ['ini_file', 'ansible.builtin.ini_file', 'community.general.ini_file'],
  args: iniArgs,
  async plan(ctx) {
    const a = ctx.args;
    const snap = await snapshotFile(ctx.probe, a.path, ctx.backupDir, ctx.taskKey);
    if (snap.stat === null) {
      if (a.state === 'absent') return { changed: false, reason: `${a.path} does not exist; nothing to remove`, steps: [] };
      if (!a.create) return { changed: false, steps: [], failed: `${a.path} does not exist (set create: true to create it)` };
    } else if (snap.stat.type !== 'file') {
      return { changed: false, steps: [], failed: `${a.path} is a ${snap.stat.type}, not a regular file` };
    }
    const edit = editIni(snap.content === null ? '' : snap.content.toString('utf8'), {
      section: a.section ?? undefined,
      option: a.option,
      value: a.value,
      state: a.state,
      noExtraSpaces: a.no_extra_spaces,
    });
    return planTextEdit(ctx, snap, a, edit);
  },
  rollback: rollbackWrite,
});
