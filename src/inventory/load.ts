/**
 * Ansible's YAML inventory format, so existing inventories work unchanged: `all` with `hosts`,
 * `children` and `vars`, nested groups, a host in several groups, host ranges (`agent[01:20]`),
 * and host_vars/ + group_vars/ beside the file. Variables merge like Ansible's: all < parent
 * group < child group (then by ansible_group_priority and name) < host; vars files override inline
 * vars of the same level. Every problem is reported with file:line:col.
 */
import { dirname } from 'node:path';
import { isMap } from 'yaml';
import type { Node, YAMLMap } from 'yaml';
import { inventoryErrorFrom } from '../playbook/issues.js';
import type { Issue } from '../playbook/issues.js';
import { keyName, nodeLoc, readYaml, toJS } from '../playbook/source.js';
import type { YamlSource } from '../playbook/source.js';
import { didYouMean } from '../playbook/suggest.js';
import type { Inventory, InventoryGroup, InventoryHost } from './types.js';
import { checkLiteralSecrets, readVarsFor } from './vars-files.js';

export type { Inventory, InventoryGroup, InventoryHost } from './types.js';

const GROUP_KEYS = ['hosts', 'children', 'vars'];

interface RawGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
}

interface Builder {
  src: YamlSource;
  issues: Issue[];
  groups: Map<string, RawGroup>;
  hostOrder: string[];
  hostVars: Map<string, Record<string, unknown>>;
}

/** `agent[01:03]` → agent01, agent02, agent03; `db[a:c]` → dba, dbb, dbc. */
export function expandHostRange(name: string): string[] {
  const m = /^(.*?)\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\](.*)$/.exec(name);
  if (!m) return [name];
  const [, pre = '', from = '', to = '', stepS, post = ''] = m;
  const step = stepS ? Number(stepS) : 1;
  const out: string[] = [];
  if (/^[0-9]+$/.test(from) && /^[0-9]+$/.test(to)) {
    const width = from.length;
    for (let i = Number(from); i <= Number(to); i += step) out.push(...expandHostRange(`${pre}${String(i).padStart(width, '0')}${post}`));
  } else if (/^[a-z]$/.test(from) && /^[a-z]$/.test(to)) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += step) out.push(...expandHostRange(`${pre}${String.fromCharCode(c)}${post}`));
  }
  return out.length > 0 ? out : [name];
}

function groupFor(b: Builder, name: string): RawGroup {
  let g = b.groups.get(name);
  if (!g) {
    g = { name, hosts: [], children: [], vars: {} };
    b.groups.set(name, g);
  }
  return g;
}

function mappingOrIssue(b: Builder, node: unknown, what: string, hint: string): YAMLMap | undefined {
  if (node === null || node === undefined) return undefined;
  if ((node as { value?: unknown }).value === null && !isMap(node)) return undefined;
  if (isMap(node)) return node;
  b.issues.push({ loc: nodeLoc(b.src, node), message: `${what} must be a mapping`, hint });
  return undefined;
}

function readHosts(b: Builder, group: RawGroup, node: unknown): void {
  const map = mappingOrIssue(
    b,
    node,
    `"hosts" of group "${group.name}"`,
    'list hosts as mapping keys: "hosts:" then one "agent1:" per line (a "- agent1" list is not the inventory format)',
  );
  if (!map) return;
  for (const pair of map.items) {
    for (const host of expandHostRange(keyName(pair))) {
      if (!b.hostVars.has(host)) {
        b.hostOrder.push(host);
        b.hostVars.set(host, {});
      }
      if (!group.hosts.includes(host)) group.hosts.push(host);
      const vars = mappingOrIssue(b, pair.value, `the vars of host "${host}"`, 'write "name: value" pairs under the host name, or nothing');
      if (vars) {
        checkLiteralSecrets(b.src, vars, b.issues);
        Object.assign(b.hostVars.get(host) ?? {}, toJS(b.src, vars) as Record<string, unknown>);
      }
    }
  }
}

function readGroup(b: Builder, name: string, node: unknown, parents: string[]): void {
  const group = groupFor(b, name);
  if (parents.includes(name)) {
    b.issues.push({
      loc: nodeLoc(b.src, node),
      message: `group "${name}" is its own ancestor (${[...parents, name].join(' -> ')})`,
      hint: 'remove one of the "children" entries that close the loop',
    });
    return;
  }
  const map = mappingOrIssue(b, node, `group "${name}"`, 'a group has "hosts:", "children:" and "vars:" keys');
  if (!map) return;
  for (const pair of map.items) {
    const key = keyName(pair);
    if (key === 'hosts') readHosts(b, group, pair.value);
    else if (key === 'vars') {
      const vars = mappingOrIssue(b, pair.value, `"vars" of group "${name}"`, 'write "name: value" pairs under vars:');
      if (vars) {
        checkLiteralSecrets(b.src, vars, b.issues);
        Object.assign(group.vars, toJS(b.src, vars) as Record<string, unknown>);
      }
    } else if (key === 'children') {
      const children = mappingOrIssue(b, pair.value, `"children" of group "${name}"`, 'list child groups as mapping keys: "children:" then "pem_agents:"');
      for (const child of children?.items ?? []) {
        const childName = keyName(child);
        if (!group.children.includes(childName)) group.children.push(childName);
        readGroup(b, childName, child.value, [...parents, name]);
      }
    } else {
      const near = didYouMean(key, GROUP_KEYS);
      b.issues.push({
        loc: nodeLoc(b.src, pair.key),
        message: `unknown key "${key}" in group "${name}"; expected hosts, children or vars`,
        hint: near || 'hosts go under "hosts:", sub-groups under "children:", variables under "vars:"',
      });
    }
  }
}

/** Members of a group including its children's, in inventory order. */
function allHostsOf(groups: Map<string, RawGroup>, name: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  const g = groups.get(name);
  if (!g || seen.has(name)) return out;
  seen.add(name);
  for (const h of g.hosts) out.add(h);
  for (const c of g.children) for (const h of allHostsOf(groups, c, seen)) out.add(h);
  return out;
}

function depths(groups: Map<string, RawGroup>): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  const visit = (name: string, d: number, path: string[]): void => {
    if (path.includes(name)) return;
    if ((depth.get(name) ?? -1) < d) depth.set(name, d);
    for (const c of groups.get(name)?.children ?? []) visit(c, d + 1, [...path, name]);
  };
  visit('all', 0, []);
  return depth;
}

function build(b: Builder, dir: string, file: string): Inventory {
  const order = new Map(b.hostOrder.map((h, i) => [h, i]));
  const all = groupFor(b, 'all');
  for (const g of b.groups.values()) g.vars = { ...g.vars, ...readVarsFor(dir, 'group_vars', g.name, b.issues) };
  const inOtherGroup = new Set<string>();
  for (const g of b.groups.values()) if (g.name !== 'all' && g.name !== 'ungrouped') for (const h of g.hosts) inOtherGroup.add(h);
  const ungrouped = b.hostOrder.filter((h) => !inOtherGroup.has(h));
  if (ungrouped.length > 0 || b.groups.has('ungrouped')) {
    const ug = groupFor(b, 'ungrouped');
    for (const h of ungrouped) if (!ug.hosts.includes(h)) ug.hosts.push(h);
    if (!all.children.includes('ungrouped')) all.children.push('ungrouped');
  }
  const depth = depths(b.groups);
  const groups = new Map<string, InventoryGroup>();
  for (const g of b.groups.values()) {
    const hosts = [...allHostsOf(b.groups, g.name)].sort((x, y) => (order.get(x) ?? 0) - (order.get(y) ?? 0));
    groups.set(g.name, { name: g.name, hosts: g.name === 'all' ? [...b.hostOrder] : hosts, children: [...g.children], vars: g.vars });
  }
  const hosts = new Map<string, InventoryHost>();
  for (const name of b.hostOrder) {
    const member = [...groups.values()].filter((g) => g.name === 'all' || g.hosts.includes(name));
    member.sort((x, y) => {
      const d = (depth.get(x.name) ?? 1) - (depth.get(y.name) ?? 1);
      if (d !== 0) return d;
      const p = Number(x.vars['ansible_group_priority'] ?? 1) - Number(y.vars['ansible_group_priority'] ?? 1);
      return p !== 0 ? p : x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
    });
    let vars: Record<string, unknown> = {};
    for (const g of member) vars = { ...vars, ...g.vars };
    vars = { ...vars, ...(b.hostVars.get(name) ?? {}), ...readVarsFor(dir, 'host_vars', name, b.issues) };
    const groupNames = [...groups.values()]
      .filter((g) => g.name !== 'all' && g.name !== 'ungrouped' && g.hosts.includes(name))
      .map((g) => g.name);
    hosts.set(name, { name, groups: groupNames, vars });
  }
  return { file, hosts, groups };
}

/** Load an Ansible YAML inventory. Throws InventoryError listing every problem found. */
export function loadInventory(file: string): Inventory {
  const { src, issues } = readYaml(file);
  if (!src || issues.length > 0) throw inventoryErrorFrom(issues);
  const b: Builder = { src, issues: [], groups: new Map(), hostOrder: [], hostVars: new Map() };
  const top = src.doc.contents as Node | null;
  if (top === null || !isMap(top)) {
    throw inventoryErrorFrom([
      {
        loc: nodeLoc(src, top),
        message: 'an inventory must be a mapping with an "all" group (Ansible YAML inventory format)',
        hint: 'start the file with "all:" and put "hosts:", "children:" and "vars:" under it',
      },
    ]);
  }
  groupFor(b, 'all');
  for (const pair of top.items) {
    const name = keyName(pair);
    readGroup(b, name, pair.value, []);
    const all = groupFor(b, 'all');
    if (name !== 'all' && !all.children.includes(name)) all.children.push(name);
  }
  const inv = build(b, dirname(file), src.file);
  if (b.issues.length > 0) throw inventoryErrorFrom(b.issues);
  return inv;
}
