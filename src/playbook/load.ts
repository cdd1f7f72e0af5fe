/**
 * YAML → Playbook. Reads the file with positions (YAML 1.2 core schema), checks the structure of
 * every play and task, and collects every problem before throwing one PlaybookError, so a user
 * fixes them all in one pass. Semantics that need the inventory and the module schemas (hosts
 * patterns, args types, templates, notify, register order) are checked by `validatePlaybook`.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import type { YAMLMap } from 'yaml';
import type { TaskModule } from '../tasks/types.js';
import { playbookErrorFrom } from './issues.js';
import { PLAY_KEYS, UNSUPPORTED_PLAY_KEYS } from './keywords.js';
import { parseTask } from './load-task.js';
import type { TaskCtx } from './load-task.js';
import { keyName, nodeLoc, readYaml } from './source.js';
import { didYouMean } from './suggest.js';
import type { Loc, PlaySpec, Playbook, TaskSpec } from './types.js';
import { readBool, readString, readStringList, readVars } from './values.js';

export type { Loc, PlaySpec, Playbook, TaskSpec } from './types.js';

export interface LoadOptions {
  findTask: (name: string) => TaskModule | undefined;
  taskNames: () => string[];
}

const PLAY_KEY_SET = new Set<string>(PLAY_KEYS);

function readTasks(ctx: TaskCtx, node: unknown, what: 'task' | 'handler'): TaskSpec[] {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node)) {
    ctx.issues.push({
      loc: nodeLoc(ctx.src, node),
      message: `"${what === 'task' ? 'tasks' : 'handlers'}" must be a list of ${what}s`,
      hint: `start each ${what} with "- name: ..." indented under "${what === 'task' ? 'tasks' : 'handlers'}:"`,
    });
    return [];
  }
  const out: TaskSpec[] = [];
  for (const item of node.items) {
    const t = parseTask(ctx, item, what);
    if (!t) continue;
    if (what === 'handler' && !(isMap(item) && item.items.some((p) => keyName(p) === 'name'))) {
      ctx.issues.push({ loc: t.loc, message: 'a handler needs a name (tasks notify it by name)', hint: 'add "name: <handler name>"' });
    }
    out.push(t);
  }
  return out;
}

function readSerial(ctx: TaskCtx, node: unknown): Array<number | string> {
  const items = isSeq(node) ? node.items : [node];
  const out: Array<number | string> = [];
  for (const item of items) {
    const v = isScalar(item) ? item.value : undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) out.push(v);
    else if (typeof v === 'string' && /^\d+$/.test(v.trim()) && Number(v) > 0) out.push(Number(v));
    else if (typeof v === 'string' && /^\d+(\.\d+)?%$/.test(v.trim())) out.push(v.trim());
    else {
      ctx.issues.push({
        loc: nodeLoc(ctx.src, item),
        message: `"serial" must be a positive number, a percentage like '20%', or a list of those; got ${JSON.stringify(v ?? null)}`,
        hint: "write serial: 5, serial: '20%', or serial: [1, 5, '50%']",
      });
    }
  }
  return out;
}

function readPercent(ctx: TaskCtx, node: unknown): number | undefined {
  const v = isScalar(node) ? node.value : undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.replace(/%$/, '')) : NaN;
  if (Number.isFinite(n) && n >= 0 && n <= 100) return n;
  ctx.issues.push({ loc: nodeLoc(ctx.src, node), message: '"max_fail_percentage" must be a number from 0 to 100', hint: 'write max_fail_percentage: 20' });
  return undefined;
}

function readChoice<T extends string>(ctx: TaskCtx, node: unknown, key: string, choices: readonly T[], dflt: T): T {
  const v = readString(ctx, node, key);
  if (v === undefined) return dflt;
  if ((choices as readonly string[]).includes(v)) return v as T;
  const near = didYouMean(v, choices);
  ctx.issues.push({
    loc: nodeLoc(ctx.src, node),
    message: `"${key}" must be one of ${choices.join(', ')}; got "${v}"`,
    hint: near || `write ${key}: ${dflt}`,
  });
  return dflt;
}

function readHostsKey(ctx: TaskCtx, node: unknown): string | undefined {
  if (isSeq(node)) return readStringList(ctx, node, 'hosts', false).join(',');
  return readString(ctx, node, 'hosts');
}

function parsePlay(ctx: TaskCtx, node: unknown, index: number): PlaySpec | undefined {
  if (!isMap(node)) {
    ctx.issues.push({
      loc: nodeLoc(ctx.src, node),
      message: `play ${index + 1} must be a mapping with "hosts:" and "tasks:"`,
      hint: 'start the play with "- name: ..." and indent "hosts:" and "tasks:" below it',
    });
    return undefined;
  }
  const map = node as YAMLMap;
  const loc = nodeLoc(ctx.src, map);
  const keyLocs = new Map<string, Loc>();
  const play: PlaySpec = {
    name: '',
    hosts: '',
    vars: {},
    serial: [],
    anyErrorsFatal: false,
    strategy: 'linear',
    onFailure: 'rollback',
    tasks: [],
    handlers: [],
    tags: [],
    loc,
    keyLocs,
  };
  let hasHosts = false;
  for (const pair of map.items) {
    const key = keyName(pair);
    const v = pair.value;
    const kloc = nodeLoc(ctx.src, pair.key);
    keyLocs.set(key, nodeLoc(ctx.src, v, kloc));
    if (!PLAY_KEY_SET.has(key)) {
      const unsupported = UNSUPPORTED_PLAY_KEYS[key];
      if (unsupported !== undefined) ctx.issues.push({ loc: kloc, message: `"${key}" is not supported in a play`, hint: unsupported });
      else {
        const near = didYouMean(key, PLAY_KEYS);
        const looksLikeTask = ctx.findTask(key) !== undefined;
        ctx.issues.push({
          loc: kloc,
          message: `unknown play key "${key}" (expected one of: ${PLAY_KEYS.join(', ')})`,
          hint: looksLikeTask ? `"${key}" is a module: put it in a task under "tasks:"` : near || `remove "${key}" or fix its spelling`,
        });
      }
      continue;
    }
    switch (key) {
      case 'name':
        play.name = readString(ctx, v, key) ?? '';
        break;
      case 'hosts':
        hasHosts = true;
        play.hosts = readHostsKey(ctx, v) ?? '';
        break;
      case 'vars':
        play.vars = readVars(ctx, v, key);
        break;
      case 'become': {
        const b = readBool(ctx, v, key);
        if (b !== undefined) play.become = b;
        break;
      }
      case 'become_user': {
        const u = readString(ctx, v, key);
        if (u !== undefined) play.becomeUser = u;
        break;
      }
      case 'serial':
        play.serial = readSerial(ctx, v);
        break;
      case 'max_fail_percentage': {
        const p = readPercent(ctx, v);
        if (p !== undefined) play.maxFailPercentage = p;
        break;
      }
      case 'any_errors_fatal':
        play.anyErrorsFatal = readBool(ctx, v, key) ?? false;
        break;
      case 'strategy':
        play.strategy = readChoice(ctx, v, key, ['linear', 'free'] as const, 'linear');
        break;
      case 'on_failure':
        play.onFailure = readChoice(ctx, v, key, ['rollback', 'stop', 'continue'] as const, 'rollback');
        break;
      case 'tasks':
        play.tasks = readTasks(ctx, v, 'task');
        break;
      case 'handlers':
        play.handlers = readTasks(ctx, v, 'handler');
        break;
      case 'tags':
        play.tags = readStringList(ctx, v, key, true);
        break;
      case 'gather_facts':
        readBool(ctx, v, key);
        break;
      default:
        break;
    }
  }
  if (!hasHosts || play.hosts.trim() === '') {
    ctx.issues.push({
      loc,
      message: `play ${index + 1} has no "hosts:"`,
      hint: 'add "hosts: <group or host pattern>", e.g. hosts: pem_agents',
    });
  }
  if (play.name === '') play.name = play.hosts;
  return play;
}

/** Load a playbook. Throws one PlaybookError listing every structural problem found. */
export function loadPlaybook(file: string, opts: LoadOptions): Playbook {
  const { src, issues } = readYaml(file);
  if (!src || issues.length > 0) throw playbookErrorFrom(issues);
  const ctx: TaskCtx = { src, issues: [], findTask: opts.findTask, taskNames: opts.taskNames };
  const top = src.doc.contents;
  if (!isSeq(top)) {
    throw playbookErrorFrom([
      {
        loc: nodeLoc(src, top),
        message: 'a playbook must be a list of plays',
        hint: 'start each play with "- name: ..." (a dash at the start of the line), then "hosts:" and "tasks:" indented below',
      },
    ]);
  }
  const plays: PlaySpec[] = [];
  top.items.forEach((item, i) => {
    if (isMap(item) && item.items.some((p) => keyName(p) === 'import_playbook' || keyName(p) === 'include_playbook')) {
      ctx.issues.push({ loc: nodeLoc(src, item), message: '"import_playbook" is not supported', hint: UNSUPPORTED_PLAY_KEYS['import_playbook'] ?? '' });
      return;
    }
    const play = parsePlay(ctx, item, i);
    if (play) plays.push(play);
  });
  if (ctx.issues.length > 0) throw playbookErrorFrom(ctx.issues);
  return { file: src.file, plays };
}
