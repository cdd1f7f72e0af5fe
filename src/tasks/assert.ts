/**
 * `assert`: fail the host when a condition is false. The runner evaluates the expressions with
 * the templating engine before plan (bare expressions via evalCondition) and passes booleans in
 * `that`, with the original text in `that_text` for the message. Never changed, nothing to undo.
 */
import { z } from 'zod';
import { defineTask } from './types.js';

const conditionArg = z
  .union([z.boolean(), z.enum(['True', 'False', 'true', 'false'])])
  .transform((v) => v === true || v === 'True' || v === 'true');

export const assertArgs = z.strictObject({
  that: z.union([conditionArg, z.array(conditionArg).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])),
  that_text: z.array(z.string()).optional(),
  fail_msg: z.string().optional(),
  msg: z.string().optional(),
  success_msg: z.string().optional(),
  quiet: z.boolean().default(false),
});

export const assertTask = defineTask({
  name: 'assert',
  aliases: ['ansible.builtin.assert'],
  args: assertArgs,
  async plan(ctx) {
    const a = ctx.args;
    const bad = a.that.findIndex((v) => !v);
    if (bad >= 0) {
      const expr = a.that_text?.[bad] ?? `condition #${bad + 1}`;
      const msg = a.fail_msg ?? a.msg;
      const failed = msg !== undefined ? `${msg} (false: ${expr})` : `assertion failed: ${expr}`;
      return { changed: false, steps: [], failed, result: { assertion: expr, evaluated_to: false, msg: failed } };
    }
    const ok = a.success_msg ?? 'all assertions passed';
    return { changed: false, reason: ok, steps: [], result: { msg: ok } };
  },
});
