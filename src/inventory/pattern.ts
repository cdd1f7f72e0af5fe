/**
 * Host patterns as Ansible evaluates them: names, groups, `all`/`*`, globs (`agent*`), `~regex`,
 * `group[0]`/`group[1:3]` subscripts, `a:b` / `a,b` union, `a:&b` intersection, `a:!b` exclusion.
 * Unions are taken first, then intersections, then exclusions, whatever their order in the
 * pattern; the result is in inventory order. A term that names nothing is an error (a typo in one
 * part of a union must not silently shrink the target list).
 */
import { readFileSync } from 'node:fs';
import { InventoryError } from '../errors.js';
import { didYouMean } from '../playbook/suggest.js';
import type { Inventory } from './types.js';

function splitPattern(pattern: string): string[] {
  const p = pattern.trim();
  if (p.includes(',')) return p.split(',').map((t) => t.trim()).filter(Boolean);
  // ':' separates terms, except inside a [a:b] subscript.
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of p) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ':' && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

function subscript(list: string[], spec: string): string[] {
  const m = /^(-?\d*)(?::(-?\d*))?$/.exec(spec);
  if (!m) return [];
  const [, a = '', b] = m;
  const idx = (s: string, dflt: number): number => (s === '' ? dflt : Number(s) < 0 ? list.length + Number(s) : Number(s));
  if (b === undefined) {
    const i = idx(a, 0);
    const h = list[i];
    return h === undefined ? [] : [h];
  }
  return list.slice(idx(a, 0), idx(b, list.length - 1) + 1);
}

/** Hosts one term names, or undefined when it names nothing known. */
function matchTerm(inv: Inventory, term: string): string[] | undefined {
  const sub = /^(.+)\[(-?\d*(?::-?\d*)?)\]$/.exec(term);
  if (!term.startsWith('~') && sub?.[1] !== undefined && sub[2] !== undefined) {
    const base = matchTerm(inv, sub[1]);
    return base === undefined ? undefined : subscript(base, sub[2]);
  }
  if (term === 'all' || term === '*') return [...inv.hosts.keys()];
  const group = inv.groups.get(term);
  if (group) return [...group.hosts];
  if (inv.hosts.has(term)) return [term];
  let re: RegExp | undefined;
  if (term.startsWith('~')) re = new RegExp(term.slice(1));
  else if (/[*?[]/.test(term)) re = globToRegExp(term);
  if (!re) return undefined;
  const out = new Set<string>();
  for (const g of inv.groups.values()) if (re.test(g.name)) for (const h of g.hosts) out.add(h);
  for (const h of inv.hosts.keys()) if (re.test(h)) out.add(h);
  return out.size > 0 ? [...out] : undefined;
}

function unknownTerm(inv: Inventory, pattern: string, term: string): InventoryError {
  const near = didYouMean(term, [...inv.groups.keys(), ...inv.hosts.keys()]);
  return new InventoryError(`host pattern "${pattern}": "${term}" matches no host or group in ${inv.file}`, {
    hint: near || `known groups: ${[...inv.groups.keys()].filter((g) => g !== 'ungrouped').join(', ')}`,
  });
}

/**
 * The hosts a pattern selects, in inventory order. Throws InventoryError when a term names
 * nothing or the whole pattern selects no host.
 */
export function selectHosts(inv: Inventory, pattern: string): string[] {
  const terms = splitPattern(pattern);
  const plain = terms.filter((t) => !t.startsWith('&') && !t.startsWith('!'));
  const ands = terms.filter((t) => t.startsWith('&')).map((t) => t.slice(1));
  const nots = terms.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
  const get = (t: string): string[] => {
    const hosts = matchTerm(inv, t);
    if (hosts === undefined) throw unknownTerm(inv, pattern, t);
    return hosts;
  };
  let selected = new Set<string>(plain.length === 0 ? [...inv.hosts.keys()] : plain.flatMap(get));
  for (const t of ands) {
    const keep = new Set(get(t));
    selected = new Set([...selected].filter((h) => keep.has(h)));
  }
  for (const t of nots) {
    const drop = new Set(get(t));
    selected = new Set([...selected].filter((h) => !drop.has(h)));
  }
  if (selected.size === 0) {
    throw new InventoryError(`host pattern "${pattern}" selects no host in ${inv.file}`, {
      hint: 'the groups it names are empty or the intersection/exclusion removes every host; check the pattern',
    });
  }
  return [...inv.hosts.keys()].filter((h) => selected.has(h));
}

/**
 * Restrict `hosts` to those a --limit pattern selects (`@file` reads one host name per line).
 * Keeps `hosts`' order; may return []. Throws InventoryError when the limit names nothing.
 */
export function applyLimit(hosts: string[], inv: Inventory, limit: string | undefined): string[] {
  if (limit === undefined || limit.trim() === '') return hosts;
  let pattern = limit;
  if (limit.startsWith('@')) {
    const names = readFileSync(limit.slice(1), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    pattern = names.join(',');
    if (!pattern) return [];
  }
  const allowed = new Set(selectHosts(inv, pattern));
  return hosts.filter((h) => allowed.has(h));
}
