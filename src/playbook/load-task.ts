/**
 * One task (or handler) from its YAML mapping: the module key found among the keywords, its args
 * normalized (bare scalar → the module's free-form arg, `args:` merged), every arg's position
 * recorded, and the structural mistakes reported: unknown keys with "did you mean", two modules in
 * one task, unsupported Ansible constructs, unquoted numeric file modes.
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Node, YAMLMap } from 'yaml';
import type { TaskModule } from '../tasks/types.js';
import { MODULE_PREFIXES, TASK_KEYS, UNSUPPORTED_TASK_KEYS } from './keywords.js';
import { keyName, nodeLoc, nodeText, toJS } from './source.js';
import { closest, didYouMean } from './suggest.js';
import type { Loc, TaskSpec } from './types.js';
import { readBool, readCondition, readString, readStringList, readVars } from './values.js';
import type { ReadCtx } from './values.js';

export interface TaskCtx extends ReadCtx {
  findTask: (name: string) => TaskModule | undefined;
  taskNames: () => string[];
}

/** The module a YAML key names: exact, alias, or with a collection prefix stripped. */
export function resolveModule(key: string, findTask: (name: string) => TaskModule | undefined): TaskModule | undefined {
  const direct = findTask(key);
  if (direct) return direct;
  const prefix = MODULE_PREFIXES.find((p) => key.startsWith(p));
  return prefix ? findTask(key.slice(prefix.length)) : undefined;
}

const TASK_KEY_SET = new Set<string>(TASK_KEYS);

/** Record every arg's position (dotted path) and flag unquoted numeric `mode` values. */
function walkArgs(ctx: TaskCtx, node: unknown, path: string, locs: Map<string, Loc>, aliasLoc?: Loc): void {
  if (isAlias(node)) {
    // `conn: *superuser`: everything below is reported at the alias, where this task uses it.
    walkArgs(ctx, node.resolve(ctx.src.doc), path, locs, aliasLoc ?? nodeLoc(ctx.src, node));
    return;
  }
  const at = (n: unknown, fallback?: Loc): Loc => aliasLoc ?? nodeLoc(ctx.src, n, fallback);
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = keyName(pair);
      const p = path ? `${path}.${key}` : key;
      const value = pair.value as Node | null;
      locs.set(p, at(value ?? pair.key, nodeLoc(ctx.src, pair.key)));
      if (key === 'mode' && isScalar(value) && typeof value.value === 'number') {
        const raw = nodeText(ctx.src, value);
        const octal = raw.replace(/^0o/, '0').padStart(4, '0');
        ctx.issues.push({
          loc: nodeLoc(ctx.src, value),
          message: `file mode ${raw} is an unquoted number: YAML reads it as ${value.value}, which is not the mode ${octal}`,
          hint: `quote the mode: mode: '${octal}'`,
        });
      }
      walkArgs(ctx, value, p, locs, aliasLoc);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const p = path ? `${path}.${i}` : String(i);
      locs.set(p, at(item));
      walkArgs(ctx, item, p, locs, aliasLoc);
    });
  }
}

/** Split `k=v k2="v 2"` (Ansible's old inline args). Undefined when it is not that form. */
function splitKeyValues(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|(\S*))/y;
  let pos = 0;
  while (pos < s.length) {
    if (/^\s*$/.test(s.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m?.[1]) return undefined;
    out[m[1]] = m[3] ?? m[4] ?? m[5] ?? '';
    pos = re.lastIndex;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function moduleArgs(ctx: TaskCtx, mod: TaskModule, key: string, node: unknown, locs: Map<string, Loc>, keyLoc: Loc): unknown {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return {};
  if (isMap(node)) {
    walkArgs(ctx, node, '', locs);
    return toJS(ctx.src, node);
  }
  if (isScalar(node) && typeof node.value === 'string') {
    if (mod.freeForm !== undefined) {
      locs.set(mod.freeForm, nodeLoc(ctx.src, node));
      return { [mod.freeForm]: node.value };
    }
    const kv = splitKeyValues(node.value);
    if (kv) {
      for (const k of Object.keys(kv)) locs.set(k, nodeLoc(ctx.src, node));
      return kv;
    }
  }
  ctx.issues.push({
    loc: nodeLoc(ctx.src, node, keyLoc),
    message: `module "${key}" takes a mapping of arguments${mod.freeForm === undefined ? '' : ` or a string (its "${mod.freeForm}")`}`,
    hint: `write "${key}:" then one "arg: value" per line, indented below it`,
  });
  return {};
}

function argNames(mod: TaskModule): string[] {
  const shape = (mod.args as unknown as { shape?: Record<string, unknown> }).shape;
  return shape && typeof shape === 'object' ? Object.keys(shape) : [];
}

function loopVar(ctx: TaskCtx, node: unknown): string {
  if (!isMap(node)) {
    ctx.issues.push({ loc: nodeLoc(ctx.src, node), message: '"loop_control" must be a mapping', hint: 'write loop_control: then loop_var: name' });
    return 'item';
  }
  let name = 'item';
  for (const pair of node.items) {
    const k = keyName(pair);
    if (k === 'loop_var') name = readString(ctx, pair.value, 'loop_var') ?? 'item';
    else if (k !== 'label') {
      ctx.issues.push({
        loc: nodeLoc(ctx.src, pair.key),
        message: `loop_control "${k}" is not supported (only loop_var and label)`,
        hint: didYouMean(k, ['loop_var', 'label']) || `remove "${k}"`,
      });
    }
  }
  return name;
}

/** Parse one task mapping; pushes issues and returns undefined when it cannot be understood. */
export function parseTask(ctx: TaskCtx, node: unknown, what: 'task' | 'handler'): TaskSpec | undefined {
  if (!isMap(node)) {
    ctx.issues.push({
      loc: nodeLoc(ctx.src, node),
      message: `a ${what} must be a mapping like "- name: ...", not ${isSeq(node) ? 'a list' : 'a single value'}`,
      hint: `write the ${what} as "- name: <what it does>" followed by its module, e.g. "  copy: ..."`,
    });
    return undefined;
  }
  const map = node as YAMLMap;
  const loc = nodeLoc(ctx.src, map);
  const keyLocs = new Map<string, Loc>();
  const modules: Array<{ key: string; mod: TaskModule; value: unknown; loc: Loc }> = [];
  const unknown: Array<{ key: string; loc: Loc }> = [];
  for (const pair of map.items) {
    const key = keyName(pair);
    const kloc = nodeLoc(ctx.src, pair.key);
    if (TASK_KEY_SET.has(key)) {
      keyLocs.set(key, nodeLoc(ctx.src, pair.value, kloc));
      continue;
    }
    const unsupported = UNSUPPORTED_TASK_KEYS[key];
    if (unsupported !== undefined) {
      ctx.issues.push({ loc: kloc, message: `"${key}" is not supported in a ${what}`, hint: unsupported });
      return undefined;
    }
    const mod = resolveModule(key, ctx.findTask);
    if (mod) modules.push({ key, mod, value: pair.value, loc: kloc });
    else unknown.push({ key, loc: kloc });
  }
  const first = modules[0];
  const second = modules[1];
  if (second && first) {
    ctx.issues.push({
      loc: second.loc,
      message: `two modules in one ${what}: "${first.key}" (line ${first.loc.line}) and "${second.key}"`,
      hint: `split it into two ${what}s, each with one module`,
    });
  }
  const names = ctx.taskNames();
  const args = first ? argNames(first.mod) : [];
  for (const u of unknown) {
    const nearKey = closest(u.key, TASK_KEYS);
    const nearModule = closest(u.key, names);
    if (first && args.includes(u.key)) {
      ctx.issues.push({
        loc: u.loc,
        message: `"${u.key}" is an argument of ${first.key}, but it is written at the ${what} level`,
        hint: `indent "${u.key}" under "${first.key}:" (two more spaces)`,
      });
    } else if (first || (nearKey !== undefined && nearModule === undefined)) {
      ctx.issues.push({
        loc: u.loc,
        message: `unknown ${what} key "${u.key}" (expected a ${what} keyword: ${TASK_KEYS.join(', ')})`,
        hint: nearKey !== undefined ? `did you mean "${nearKey}"?` : `remove "${u.key}" or fix its spelling`,
      });
    } else {
      ctx.issues.push({
        loc: u.loc,
        message: `unknown module "${u.key}"`,
        hint: nearModule !== undefined ? `did you mean "${nearModule}"?` : `available modules: ${names.filter((n) => !n.includes('.')).join(', ')}`,
      });
    }
  }
  if (!first) {
    if (unknown.length === 0) {
      ctx.issues.push({
        loc,
        message: `this ${what} has no module (nothing to do)`,
        hint: `add one module key, e.g. "command: ..." or "copy: ..."; modules: ${names.filter((n) => !n.includes('.')).join(', ')}`,
      });
    }
    return undefined;
  }
  const argLocs = new Map<string, Loc>([['', first.loc]]);
  let moduleArgValue = moduleArgs(ctx, first.mod, first.key, first.value, argLocs, first.loc);
  const spec: TaskSpec = {
    name: '',
    module: first.mod.name,
    args: moduleArgValue,
    loopVar: 'item',
    tags: [],
    notify: [],
    runOnce: false,
    noLog: false,
    ignoreErrors: false,
    vars: {},
    loc,
    argLocs,
    keyLocs,
  };
  for (const pair of map.items) {
    const key = keyName(pair);
    const v = pair.value;
    switch (key) {
      case 'name':
        spec.name = readString(ctx, v, key) ?? '';
        break;
      case 'when':
      case 'changed_when':
      case 'failed_when': {
        const c = readCondition(ctx, v, key);
        if (c !== undefined) spec[key === 'when' ? 'when' : key === 'changed_when' ? 'changedWhen' : 'failedWhen'] = c;
        break;
      }
      case 'loop':
      case 'with_items':
        if (spec.loop !== undefined) {
          ctx.issues.push({ loc: nodeLoc(ctx.src, pair.key), message: 'both "loop" and "with_items" are set', hint: 'keep one of them' });
        }
        spec.loop = toJS(ctx.src, v);
        break;
      case 'loop_control':
        spec.loopVar = loopVar(ctx, v);
        break;
      case 'register': {
        const r = readString(ctx, v, key);
        if (r !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(r)) {
          ctx.issues.push({ loc: nodeLoc(ctx.src, v), message: `register name "${r}" is not a valid variable name`, hint: 'use letters, digits and _ only, e.g. register: cert_info' });
        } else if (r !== undefined) spec.register = r;
        break;
      }
      case 'tags':
        spec.tags = readStringList(ctx, v, key, true);
        break;
      case 'notify':
        spec.notify = readStringList(ctx, v, key, false);
        break;
      case 'delegate_to': {
        const d = readString(ctx, v, key);
        if (d !== undefined) spec.delegateTo = d;
        break;
      }
      case 'run_once':
        spec.runOnce = readBool(ctx, v, key) ?? false;
        break;
      case 'no_log':
        spec.noLog = readBool(ctx, v, key) ?? false;
        break;
      case 'ignore_errors':
        spec.ignoreErrors = readBool(ctx, v, key) ?? false;
        break;
      case 'become': {
        const b = readBool(ctx, v, key);
        if (b !== undefined) spec.become = b;
        break;
      }
      case 'become_user': {
        const u = readString(ctx, v, key);
        if (u !== undefined) spec.becomeUser = u;
        break;
      }
      case 'vars':
        spec.vars = readVars(ctx, v, key);
        break;
      case 'args': {
        if (!isMap(v)) {
          ctx.issues.push({ loc: nodeLoc(ctx.src, v), message: '"args" must be a mapping', hint: 'write args: then one "arg: value" per line' });
          break;
        }
        walkArgs(ctx, v, '', argLocs);
        const extra = toJS(ctx.src, v) as Record<string, unknown>;
        moduleArgValue = { ...(extra ?? {}), ...((moduleArgValue as Record<string, unknown>) ?? {}) };
        spec.args = moduleArgValue;
        break;
      }
      default:
        break;
    }
  }
  if (spec.name === '') {
    const free = first.mod.freeForm !== undefined ? (moduleArgValue as Record<string, unknown>)[first.mod.freeForm] : undefined;
    spec.name = typeof free === 'string' ? `${first.mod.name} ${free}`.slice(0, 80) : first.mod.name;
  }
  return spec;
}
