/**
 * `assert`: fail the host when a condition is false. The runner evaluates the expressions with
 * the templating engine before plan (bare expressions via evalCondition) and passes booleans in
 * `that`, with the original text in `that_text` for the message. Never changed, nothing to undo.
 */
import { z } from 'zod';
import { defineTask } from './types.js';

/**
 * After the runner's evaluation each entry is a boolean. At load time (validation) the entries are
 * still expression strings, so strings are accepted; one reaching plan() unevaluated fails clearly.
 */
const conditionArg = z
  .union([z.boolean(), z.string().min(1)])
  .transform((v): boolean | string => (v === 'True' || v === 'true' ? true : v === 'False' || v === 'false' ? false : v));

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
  expressionArgs: ['that'],
  async plan(ctx) {
    const a = ctx.args;
    const raw = a.that.findIndex((v) => typeof v === 'string');
    if (raw >= 0) return { changed: false, steps: [], failed: `internal: the condition ${JSON.stringify(a.that[raw])} reached assert unevaluated` };
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
