/**
 * pem_agent_facts: read a PEM agent's agent.cfg ([PEM/agent]) and register its settings, so the
 * playbooks use the real certificate paths (agent_ssl_crt/agent_ssl_key) instead of assuming
 * /root/.pem (pitfall 9), and check that agent_id matches the id the inventory and database give
 * this host (pitfall 7). Read-only; never changed; nothing to roll back.
 */
import { z } from 'zod';
import { defineTask, noChange } from './types.js';

export function parseAgentCfg(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && (section === 'PEM/agent' || section === '')) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

export const pemAgentFactsTask = defineTask({
  name: 'pem_agent_facts',
  args: z.strictObject({
    path: z.string().min(1),
    /** The id this host must have (inventory pem_agent_id); a mismatch fails the task. */
    expect_id: z.union([z.string(), z.number()]).optional(),
  }),
  async plan(ctx) {
    const data = await ctx.probe.readFile(ctx.args.path);
    if (data === null) {
      return { changed: false, steps: [], failed: `${ctx.args.path} does not exist on ${ctx.host.name}: is the PEM agent installed here? (set pem_agent_cfg in the inventory if agent.cfg lives elsewhere)` };
    }
    const cfg = parseAgentCfg(data.toString('utf8'));
    const id = cfg.agent_id ?? cfg.pem_agent;
    if (id === undefined) return { changed: false, steps: [], failed: `${ctx.args.path} has no agent_id in [PEM/agent]` };
    // PEM agent ids are integers (pem.agent.id); anything else would flow into names and paths (agent<id>).
    if (!/^[1-9][0-9]{0,9}$/.test(id)) {
      return { changed: false, steps: [], failed: `${ctx.args.path} on ${ctx.host.name} has agent_id=${JSON.stringify(id)}, which is not a PEM agent id (a positive integer); fix agent.cfg` };
    }
    const facts = {
      agent_id: id,
      agent_user: cfg.agent_user ?? `agent${id}`,
      agent_ssl_crt: cfg.agent_ssl_crt ?? '',
      agent_ssl_key: cfg.agent_ssl_key ?? '',
      pem_host: cfg.pem_host ?? '',
      pem_port: cfg.pem_port ?? '',
      pem_ssl_mode: cfg.pem_ssl_mode ?? 'require',
    };
    if (!facts.agent_ssl_crt || !facts.agent_ssl_key) {
      return { changed: false, steps: [], result: facts, failed: `${ctx.args.path} does not set agent_ssl_crt and agent_ssl_key; set them to the agent's certificate and key paths` };
    }
    if (ctx.args.expect_id !== undefined && String(ctx.args.expect_id) !== id) {
      return {
        changed: false,
        steps: [],
        result: facts,
        failed: `agent.cfg on ${ctx.host.name} says agent_id=${id} but the inventory says pem_agent_id=${ctx.args.expect_id}: a certificate for the wrong agent would be installed here; fix the inventory or agent.cfg`,
      };
    }
    return noChange(`agent ${id} (${facts.agent_user}), certificate ${facts.agent_ssl_crt}`, facts);
  },
});
