/**
 * `debug`: show a message (`msg`, already rendered by the runner) or a variable's value (`var`,
 * a dotted name looked up in registered results, then host vars). Never changed; the shown value
 * is registered as the result.
 */
import { z } from 'zod';
import { defineTask } from './types.js';

export const debugArgs = z
  .strictObject({
    msg: z.unknown().optional(),
    var: z.string().min(1).optional(),
    verbosity: z.number().int().nonnegative().default(0),
  })
  .refine((a) => a.msg === undefined || a.var === undefined, { error: 'give msg or var, not both' });

/** Look up `a.b.c` (or `a[0]`) in the scopes, first hit wins; undefined when not found. */
export function lookupVar(name: string, scopes: ReadonlyArray<Readonly<Record<string, unknown>>>): unknown {
  const parts = name.replace(/\[(\d+)\]/g, '.$1').split('.');
  for (const scope of scopes) {
    let cur: unknown = scope;
    let ok = true;
    for (const p of parts) {
      if (cur !== null && typeof cur === 'object' && p in (cur as Record<string, unknown>)) cur = (cur as Record<string, unknown>)[p];
      else {
        ok = false;
        break;
      }
    }
    if (ok) return cur;
  }
  return undefined;
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export const debugTask = defineTask({
  name: 'debug',
  aliases: ['ansible.builtin.debug'],
  args: debugArgs,
  async plan(ctx) {
    const a = ctx.args;
    if (a.var !== undefined) {
      const v = lookupVar(a.var, [ctx.registered, ctx.host.vars]);
      const value = v === undefined ? 'VARIABLE IS NOT DEFINED!' : v;
      return { changed: false, reason: `${a.var}: ${show(value)}`, steps: [], result: { [a.var]: value } };
    }
    const msg = a.msg ?? 'Hello world!';
    return { changed: false, reason: show(msg), steps: [], result: { msg } };
  },
});
