/**
 * The Ansible filters and tests that ops playbooks use, on top of nunjucks' own (lower, upper,
 * trim, replace, join, length, first, last, select, reject, ...). Semantics follow Ansible where
 * they differ from nunjucks: `default` sees our strict undefined, `bool` reads yes/on/1, `quote`
 * is the one shell quoting function, regexes accept Python's `(?P<name>)` and `\1` spellings.
 */
import { posix } from 'node:path';
import { stringify as yamlStringify, parse as yamlParse } from 'yaml';
import { quoteArg } from '../shell/quote.js';

/** Marks strict-undefined values; set by template.ts. */
export interface UndefinedProbe {
  isUndefined(v: unknown): boolean;
  /** Throws the undefined-variable error for `v`. */
  fail(v: unknown, message?: string): never;
}

interface NunjucksEnvLike {
  addFilter(name: string, fn: (...args: never[]) => unknown): unknown;
  addTest(name: string, fn: (...args: never[]) => unknown): unknown;
  getFilter(name: string): (...args: unknown[]) => unknown;
}

type Kw = Record<string, unknown>;

/** Split nunjucks' trailing keyword-args object off the positional args. */
function splitKw(args: unknown[]): { pos: unknown[]; kw: Kw } {
  const last = args[args.length - 1];
  if (last !== null && typeof last === 'object' && Object.prototype.hasOwnProperty.call(last, '__keywords')) {
    const { __keywords: _ignored, ...kw } = last as Kw;
    return { pos: args.slice(0, -1), kw };
  }
  return { pos: args, kw: {} };
}

function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && !(v instanceof String)) {
    const val = (v as { val?: unknown }).val;
    if (typeof val === 'string') return val;
    return JSON.stringify(v);
  }
  return String(v);
}

/** Python regex spellings to JavaScript. */
function pyRegex(pattern: string, flags: string): RegExp {
  return new RegExp(pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>'), flags);
}

function pyReplacement(rep: string): string {
  return rep.replace(/\$/g, '$$$$').replace(/\\g<(\w+)>/g, (_m, g: string) => (/^\d+$/.test(g) ? `$${g}` : `$<${g}>`)).replace(/\\(\d)/g, '$$$1');
}

function toList(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (v !== null && typeof v === 'object') {
    if (Symbol.iterator in (v as object)) return [...(v as Iterable<unknown>)];
    return Object.keys(v);
  }
  return [];
}

function attrOf(item: unknown, path: string): unknown {
  let cur: unknown = item;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function installFilters(env: NunjucksEnvLike, u: UndefinedProbe): void {
  const add = (name: string, fn: (...args: never[]) => unknown): void => void env.addFilter(name, fn);

  const dflt = (...args: unknown[]): unknown => {
    const { pos, kw } = splitKw(args);
    const [value, fallback = '', boolean = kw['boolean'] ?? false] = pos;
    if (value === undefined || u.isUndefined(value)) return fallback;
    if (boolean === true && (value === null || value === false || value === '' || value === 0)) return fallback;
    return value;
  };
  add('default', dflt as never);
  add('d', dflt as never);
  add('mandatory', ((value: unknown, msg?: unknown) => {
    if (value === undefined || u.isUndefined(value)) u.fail(value, typeof msg === 'string' ? msg : undefined);
    return value;
  }) as never);
  add('bool', ((v: unknown) => {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v === 1;
    return ['yes', 'on', '1', 'true', 'y'].includes(str(v).trim().toLowerCase());
  }) as never);
  add('int', ((v: unknown, dflt = 0, base = 10) => {
    if (typeof v === 'number') return Math.trunc(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    const n = Number.parseInt(str(v).trim(), Number(base));
    return Number.isNaN(n) ? dflt : n;
  }) as never);
  add('float', ((v: unknown, dflt = 0) => {
    const n = Number.parseFloat(str(v));
    return Number.isNaN(n) ? dflt : n;
  }) as never);
  add('string', ((v: unknown) => str(v)) as never);
  add('regex_replace', ((v: unknown, pattern: string, rep = '', ...rest: unknown[]) => {
    const { pos, kw } = splitKw(rest);
    const ignorecase = pos[0] ?? kw['ignorecase'] ?? false;
    const multiline = pos[1] ?? kw['multiline'] ?? false;
    const flags = `g${ignorecase === true ? 'i' : ''}${multiline === true ? 'm' : ''}`;
    return str(v).replace(pyRegex(pattern, flags), pyReplacement(str(rep)));
  }) as never);
  add('regex_search', ((v: unknown, pattern: string, ...rest: unknown[]) => {
    const { pos, kw } = splitKw(rest);
    const flags = `${kw['ignorecase'] === true ? 'i' : ''}${kw['multiline'] === true ? 'm' : ''}`;
    const m = pyRegex(pattern, flags).exec(str(v));
    if (!m) return null;
    const groups = pos.map(String);
    if (groups.length === 0) return m[0];
    return groups.map((g) => {
      const named = /^\\g<(\w+)>$/.exec(g);
      if (named?.[1]) return m.groups?.[named[1]] ?? null;
      const num = /^\\(\d+)$/.exec(g);
      return num?.[1] ? (m[Number(num[1])] ?? null) : null;
    });
  }) as never);
  add('regex_findall', ((v: unknown, pattern: string) => [...str(v).matchAll(pyRegex(pattern, 'g'))].map((m) => m[1] ?? m[0])) as never);
  add('basename', ((v: unknown) => posix.basename(str(v))) as never);
  add('dirname', ((v: unknown) => posix.dirname(str(v))) as never);
  add('b64encode', ((v: unknown) => Buffer.from(str(v), 'utf8').toString('base64')) as never);
  add('b64decode', ((v: unknown) => Buffer.from(str(v), 'base64').toString('utf8')) as never);
  add('to_json', ((v: unknown) => JSON.stringify(v)) as never);
  add('to_nice_json', ((v: unknown, ...rest: unknown[]) => {
    const { kw } = splitKw(rest);
    return JSON.stringify(v, null, Number(kw['indent'] ?? 4));
  }) as never);
  add('to_yaml', ((v: unknown) => yamlStringify(v).replace(/\n$/, '')) as never);
  add('to_nice_yaml', ((v: unknown) => yamlStringify(v, { indent: 4 })) as never);
  add('from_json', ((v: unknown) => JSON.parse(str(v)) as unknown) as never);
  add('from_yaml', ((v: unknown) => yamlParse(str(v), { schema: 'core', version: '1.2' }) as unknown) as never);
  add('unique', ((v: unknown) => [...new Set(toList(v))]) as never);
  add('flatten', ((v: unknown) => toList(v).flat(Infinity)) as never);
  add('split', ((v: unknown, sep?: unknown) => (typeof sep === 'string' ? str(v).split(sep) : str(v).trim().split(/\s+/))) as never);
  add('quote', ((v: unknown) => quoteArg(str(v))) as never);
  add('ternary', ((v: unknown, yes: unknown, no: unknown) => (v ? yes : no)) as never);
  add('combine', ((...args: unknown[]) => Object.assign({}, ...args.filter((a) => a !== null && typeof a === 'object'))) as never);
  add('dict2items', ((v: unknown) => Object.entries((v ?? {}) as object).map(([key, value]) => ({ key, value }))) as never);
  add('items2dict', ((v: unknown) => Object.fromEntries(toList(v).map((i) => [attrOf(i, 'key'), attrOf(i, 'value')]))) as never);
  add('list', ((v: unknown) => toList(v)) as never);
  add('map', ((seq: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKw(args);
    const items = toList(seq);
    if (typeof kw['attribute'] === 'string') {
      const a = kw['attribute'];
      return items.map((i) => attrOf(i, a) ?? kw['default']);
    }
    const [name, ...rest] = pos;
    if (typeof name !== 'string') return items;
    const f = env.getFilter(name);
    return items.map((i) => f(i, ...rest));
  }) as never);

  env.addTest('defined', ((v: unknown) => v !== undefined && !u.isUndefined(v)) as never);
  env.addTest('undefined', ((v: unknown) => v === undefined || u.isUndefined(v)) as never);
  env.addTest('none', ((v: unknown) => v === null) as never);
  env.addTest('mapping', ((v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)) as never);
  env.addTest('sequence', ((v: unknown) => Array.isArray(v) || typeof v === 'string') as never);
  env.addTest('match', ((v: unknown, p: string) => pyRegex(`^(?:${p})`, '').test(str(v))) as never);
  env.addTest('search', ((v: unknown, p: string) => pyRegex(p, '').test(str(v))) as never);
  env.addTest('regex', ((v: unknown, p: string) => pyRegex(p, '').test(str(v))) as never);
}
