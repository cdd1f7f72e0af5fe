/**
 * `command`: run a program with arguments, never through a shell. The free-form string is split
 * like a shell would (quotes, backslashes) but `|`, `>`, `$VAR` stay literal; or give `argv`.
 * Not idempotent unless `creates`/`removes` decide it: otherwise it is always "changed", and in
 * check mode it is "would run" (a command cannot be planned honestly). Not rollback-able:
 * rollback returns no steps, as Ansible users expect; pair it with an explicit undo task if needed.
 * The runner registers rc, stdout, stderr, stdout_lines from the exec step's result (capture 'stdout').
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import { argvArg, pathArg } from './lib/args.js';
import { planRun } from './lib/run.js';
import { splitCommand } from './lib/split.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const commandArgs = z
  .strictObject({
    cmd: z.string().min(1).optional(),
    argv: argvArg.optional(),
    creates: pathArg.optional(),
    removes: pathArg.optional(),
    chdir: pathArg.optional(),
    stdin: z.string().optional(),
    stdin_add_newline: z.boolean().default(true),
    env: z.record(z.string().regex(ENV_NAME, { error: 'invalid environment variable name' }), z.coerce.string()).optional(),
  })
  .refine((a) => (a.cmd === undefined) !== (a.argv === undefined), { error: 'give exactly one of cmd (free-form) or argv' })
  .superRefine((a, ctx) => {
    if (a.cmd === undefined) return;
    try {
      if (splitCommand(a.cmd).length === 0) ctx.addIssue({ code: 'custom', message: 'cmd is empty', path: ['cmd'] });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message, path: ['cmd'] });
    }
  });

export const commandTask = defineTask({
  name: 'command',
  aliases: ['ansible.builtin.command'],
  args: commandArgs,
  freeForm: 'cmd',
  async plan(ctx) {
    const a = ctx.args;
    const argv = a.argv ?? splitCommand(a.cmd ?? '');
    const stdin = a.stdin === undefined ? undefined : a.stdin_add_newline && !a.stdin.endsWith('\n') ? `${a.stdin}\n` : a.stdin;
    return planRun(ctx, argv, { creates: a.creates, removes: a.removes, chdir: a.chdir, stdin, env: a.env });
  },
  rollback() {
    return [];
  },
});
