/**
 * `shell`: run a command line through a shell ([executable, '-c', cmd], default /bin/sh), for
 * pipes and redirections. The command line is the user's own shell code; fleetplay pastes nothing
 * into it. Same idempotence as `command` (creates/removes) and, like it, not rollback-able.
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import { pathArg } from './lib/args.js';
import { planRun } from './lib/run.js';

export const shellArgs = z.strictObject({
  cmd: z.string().min(1, { error: 'shell needs a command line' }),
  creates: pathArg.optional(),
  removes: pathArg.optional(),
  chdir: pathArg.optional(),
  executable: pathArg.default('/bin/sh'),
  stdin: z.string().optional(),
  stdin_add_newline: z.boolean().default(true),
});

export const shellTask = defineTask({
  name: 'shell',
  aliases: ['ansible.builtin.shell'],
  args: shellArgs,
  freeForm: 'cmd',
  async plan(ctx) {
    const a = ctx.args;
    const stdin = a.stdin === undefined ? undefined : a.stdin_add_newline && !a.stdin.endsWith('\n') ? `${a.stdin}\n` : a.stdin;
    return planRun(ctx, [a.executable, '-c', a.cmd], { creates: a.creates, removes: a.removes, chdir: a.chdir, stdin });
  },
  rollback() {
    return [];
  },
});
