/**
 * The variables a task sees on one host, in Ansible's precedence: inventory (all < groups < host)
 * < play vars < task vars < registered results < magic vars < extra vars (-e). Shared by the
 * validator (with the values known at load time) and the runner (with the real ones).
 */
import type { Inventory } from '../inventory/types.js';

/** Names the runner defines on every host; the validator knows them before any connection. */
export const MAGIC_VARS = [
  'inventory_hostname',
  'inventory_hostname_short',
  'hostvars',
  'groups',
  'group_names',
  'play_hosts',
  'ansible_play_hosts',
  'ansible_play_batch',
  'ansible_check_mode',
  'fleetplay_run_id',
] as const;

export interface HostVarsInput {
  /** Hosts of the current play (after --limit). */
  playHosts: string[];
  /** Hosts of the current serial batch; default: playHosts. */
  batchHosts?: string[];
  playVars?: Record<string, unknown>;
  taskVars?: Record<string, unknown>;
  registered?: Record<string, unknown>;
  extraVars?: Record<string, unknown>;
  checkMode: boolean;
  runId: string;
}

const shared = new WeakMap<Inventory, { hostvars: Record<string, unknown>; groups: Record<string, string[]> }>();

/** hostvars and groups, built once per inventory. */
export function inventoryMagic(inv: Inventory): { hostvars: Record<string, unknown>; groups: Record<string, string[]> } {
  const hit = shared.get(inv);
  if (hit) return hit;
  const hostvars: Record<string, unknown> = {};
  for (const h of inv.hosts.values()) {
    hostvars[h.name] = { ...h.vars, inventory_hostname: h.name, inventory_hostname_short: h.name.split('.')[0], group_names: h.groups };
  }
  const groups: Record<string, string[]> = {};
  for (const g of inv.groups.values()) groups[g.name] = [...g.hosts];
  const value = { hostvars, groups };
  shared.set(inv, value);
  return value;
}

/** Every variable a task sees on `host`. */
export function hostVarsFor(inv: Inventory, host: string, input: HostVarsInput): Record<string, unknown> {
  const h = inv.hosts.get(host);
  const { hostvars, groups } = inventoryMagic(inv);
  return {
    ...(h?.vars ?? {}),
    ...(input.playVars ?? {}),
    ...(input.taskVars ?? {}),
    ...(input.registered ?? {}),
    inventory_hostname: host,
    inventory_hostname_short: host.split('.')[0],
    hostvars,
    groups,
    group_names: h?.groups ?? [],
    play_hosts: input.playHosts,
    ansible_play_hosts: input.playHosts,
    ansible_play_batch: input.batchHosts ?? input.playHosts,
    ansible_check_mode: input.checkMode,
    fleetplay_run_id: input.runId,
    ...(input.extraVars ?? {}),
  };
}
