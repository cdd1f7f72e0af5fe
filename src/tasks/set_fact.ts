/**
 * `set_fact`: set host variables for the rest of the play. The values arrive rendered; the plan
 * registers them under `ansible_facts`, which the runner merges into the host's vars. Never
 * changed, nothing to undo (facts live in the run, not on the host).
 */
import { z } from 'zod';
import { defineTask } from './types.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const set_factArgs = z
  .record(z.string(), z.unknown())
  .superRefine((rec, ctx) => {
    const keys = Object.keys(rec).filter((k) => k !== 'cacheable');
    if (keys.length === 0) ctx.addIssue({ code: 'custom', message: 'set_fact needs at least one name: value' });
    for (const k of keys) {
      if (!NAME.test(k)) ctx.addIssue({ code: 'custom', message: `invalid variable name "${k}" (letters, digits, underscore; not starting with a digit)`, path: [k] });
    }
  });

export const set_factTask = defineTask({
  name: 'set_fact',
  aliases: ['ansible.builtin.set_fact'],
  args: set_factArgs,
  async plan(ctx) {
    const facts: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(ctx.args)) if (k !== 'cacheable') facts[k] = v;
    return { changed: false, reason: `set ${Object.keys(facts).join(', ')}`, steps: [], result: { ansible_facts: facts } };
  },
});
