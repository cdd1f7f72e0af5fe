/**
 * `pause`: a gate. With `seconds`/`minutes` it sleeps; without, it is an interactive confirmation
 * that the runner owns (it asks with `prompt`, `--yes` answers for the user, and a run with no
 * terminal and no --yes must stop here). The plan is one call step labelled with the prompt; it is
 * never changed and has nothing to undo.
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import type { CallStep } from './steps.js';
import { secondsArg } from './lib/args.js';

export const pauseArgs = z
  .strictObject({
    prompt: z.string().optional(),
    seconds: secondsArg.optional(),
    minutes: secondsArg.optional(),
    echo: z.boolean().default(true),
  })
  .refine((a) => a.seconds === undefined || a.minutes === undefined, { error: 'give seconds or minutes, not both' });

/** True when the pause waits for a person (the runner must confirm it) rather than for time. */
export function isConfirmationPause(args: z.infer<typeof pauseArgs>): boolean {
  return args.seconds === undefined && args.minutes === undefined;
}

export const pauseTask = defineTask({
  name: 'pause',
  aliases: ['ansible.builtin.pause'],
  args: pauseArgs,
  async plan(ctx) {
    const a = ctx.args;
    const seconds = a.seconds ?? (a.minutes !== undefined ? a.minutes * 60 : undefined);
    const label = seconds === undefined ? `confirm: ${a.prompt ?? 'press enter to continue'}` : `${a.prompt ? `${a.prompt}: ` : ''}pause ${seconds}s`;
    const step: CallStep = {
      kind: 'call',
      label,
      async run(api) {
        if (seconds === undefined) return { user_input: '' };
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, seconds * 1000);
          api.signal.addEventListener('abort', () => {
            clearTimeout(t);
            resolve();
          }, { once: true });
        });
        return { user_input: '' };
      },
    };
    return { changed: false, reason: label, steps: [step], result: { prompt: a.prompt ?? null, seconds: seconds ?? null } };
  },
});
