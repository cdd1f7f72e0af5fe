/**
 * The variables a task sees on a host, in Ansible's precedence: inventory (group < child group <
 * host) < play vars < task vars < set_fact/registered < extra vars, plus the magic vars.
 */
import type { TaskSpec } from '../playbook/types.js';
import type { HostState, RunContext } from './context.js';

export function magicVars(run: RunContext, host: HostState, playHosts: readonly string[]): Record<string, unknown> {
  const groups: Record<string, string[]> = {};
  for (const [name, g] of run.inventory.groups) groups[name] = [...g.hosts];
  groups.all ??= [...run.inventory.hosts.keys()];
  return {
    inventory_hostname: host.name,
    inventory_hostname_short: host.name.split('.')[0],
    group_names: host.inv.groups.filter((g) => g !== 'all' && g !== 'ungrouped'),
    groups,
    play_hosts: [...playHosts],
    ansible_play_hosts: [...playHosts],
    ansible_check_mode: run.opts.check,
    fleetplay_run_id: run.runId,
    playbook_dir: run.playbookDir,
    hostvars: hostvarsProxy(run),
  };
}

function hostvarsProxy(run: RunContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, h] of run.hosts) {
    Object.defineProperty(out, name, {
      enumerable: true,
      get: () => ({ ...h.inv.vars, ...h.facts, ...h.registered, inventory_hostname: name }),
    });
  }
  for (const [name, h] of run.inventory.hosts) {
    if (!(name in out)) Object.defineProperty(out, name, { enumerable: true, get: () => ({ ...h.vars, inventory_hostname: name }) });
  }
  return out;
}

export function taskVars(
  run: RunContext,
  host: HostState,
  playVars: Record<string, unknown>,
  task: TaskSpec,
  playHosts: readonly string[],
): Record<string, unknown> {
  return {
    ...host.inv.vars,
    ...playVars,
    ...task.vars,
    ...host.facts,
    ...host.registered,
    ...run.opts.extraVars,
    ...magicVars(run, host, playHosts),
  };
}
