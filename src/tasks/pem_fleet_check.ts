/**
 * pem_fleet_check: compare the active agents in the PEM database (pem.agent WHERE active) with the
 * agent hosts of the inventory, and stop with a clear error when they disagree: the playbooks never
 * trust the inventory alone. Read-only; never changed.
 */
import { z } from 'zod';
import { defineTask, noChange } from './types.js';

export const pemFleetCheckTask = defineTask({
  name: 'pem_fleet_check',
  args: z.strictObject({
    /** Rows of `SELECT id FROM pem.agent WHERE active` (objects with `id`) or plain ids. */
    active: z.array(z.union([z.number(), z.string(), z.looseObject({ id: z.union([z.number(), z.string()]) })])),
    /** Inventory hosts that run an agent. */
    hosts: z.array(z.string()),
    /** Host var holding each host's agent id. */
    id_var: z.string().default('pem_agent_id'),
  }),
  async plan(ctx) {
    const hostvars = (ctx.host.vars.hostvars ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const dbIds = new Set(ctx.args.active.map((r) => String(typeof r === 'object' ? r.id : r)));
    const invIds = new Map<string, string>();
    const problems: string[] = [];
    for (const h of ctx.args.hosts) {
      const id = hostvars[h]?.[ctx.args.id_var];
      if (id === undefined || id === null || id === '') problems.push(`inventory host ${h} has no ${ctx.args.id_var}`);
      else if (invIds.has(String(id))) problems.push(`agent id ${String(id)} is given to both ${invIds.get(String(id))} and ${h}`);
      else invIds.set(String(id), h);
    }
    const missingHosts = [...dbIds].filter((id) => !invIds.has(id));
    const inactive = [...invIds].filter(([id]) => !dbIds.has(id)).map(([id, h]) => `${h} (id ${id})`);
    if (missingHosts.length) problems.push(`active in pem.agent but on no inventory host: ${missingHosts.map((i) => `agent${i}`).join(', ')}`);
    if (inactive.length) problems.push(`inventory hosts whose agent is not active in pem.agent: ${inactive.join(', ')}`);
    if (problems.length > 0) {
      return {
        changed: false,
        steps: [],
        failed: `the inventory and the PEM database disagree: ${problems.join('; ')}. Fix the inventory (or the pem.agent rows) so every active agent has exactly one host, then run again`,
      };
    }
    return noChange(`${dbIds.size} active agent(s) in pem.agent, each on its inventory host`, { agent_ids: [...dbIds] });
  },
});
