/**
 * Load-time checks of one task on one host's variables: every template's variables exist (or are
 * registered by an earlier task, or are the loop item), templates render, and the module's args
 * pass its zod schema after rendering. Args that depend on values only known at run time
 * (registered results, loop items of a templated loop) are left to the run.
 */
import type { z } from 'zod';
import type { TaskModule } from '../tasks/types.js';
import type { Issue } from './issues.js';
import { closest, didYouMean } from './suggest.js';
import { TemplateError, evalCondition, hasTemplate, renderValue, templateRefs } from './template.js';
import type { Loc, TaskSpec } from './types.js';

/** Names whose values exist only at run time, and where each register is defined. */
export interface Knowns {
  /** Registered before this task (or by it, for changed_when/failed_when). */
  registered: Set<string>;
  /** Every register in the playbook, for "used before it is registered". */
  registeredAt: Map<string, Loc>;
  /** Other run-time-only names (loop var, ansible_check_mode, fleetplay_run_id). */
  runtime: Set<string>;
}

/** Collects issues per (location, message), remembering on which hosts each happened. */
export class IssueSink {
  private readonly map = new Map<string, { issue: Issue; hosts: Set<string> }>();
  add(issue: Issue, host?: string): void {
    const key = `${issue.loc?.file}:${issue.loc?.line}:${issue.loc?.col}|${issue.message}`;
    const hit = this.map.get(key) ?? { issue, hosts: new Set<string>() };
    if (host !== undefined) hit.hosts.add(host);
    this.map.set(key, hit);
  }
  /** Issues; those that hit only some of `allHosts` say which. */
  issues(hostsOf: (issue: Issue) => string[]): Issue[] {
    return [...this.map.values()].map(({ issue, hosts }) => {
      const all = hostsOf(issue);
      if (hosts.size === 0 || all.length <= 1 || hosts.size === all.length) return issue;
      const list = [...hosts].slice(0, 5).join(', ') + (hosts.size > 5 ? `, and ${hosts.size - 5} more` : '');
      return { ...issue, message: `${issue.message} on ${hosts.size === 1 ? 'host' : 'hosts'} ${list}` };
    });
  }
}

type Check = { ok: true; runtime: boolean } | { ok: false };

/** Check the variables of one template string; true when it depends on run-time values. */
export function checkNames(
  s: string,
  vars: Record<string, unknown>,
  knowns: Knowns,
  loc: Loc,
  sink: IssueSink,
  host: string,
  asCondition = false,
): Check {
  let refs;
  try {
    refs = asCondition ? templateRefs(s, true) : hasTemplate(s) ? templateRefs(s) : [];
  } catch (e) {
    sink.add({ loc, message: (e as Error).message, hint: (e as TemplateError).hint ?? 'fix the template syntax' }, host);
    return { ok: false };
  }
  let runtime = false;
  let ok = true;
  for (const r of refs) {
    if (Object.prototype.hasOwnProperty.call(vars, r.name)) continue;
    if (knowns.registered.has(r.name) || knowns.runtime.has(r.name)) {
      runtime = true;
      continue;
    }
    if (r.guarded) continue;
    ok = false;
    const later = knowns.registeredAt.get(r.name);
    if (later) {
      sink.add(
        {
          loc,
          message: `"${r.name}" is used before it is registered or set (by the task at line ${later.line})`,
          hint: `move this task after the task that defines "${r.name}" (register or set_fact), or guard it with "${r.name} is defined"`,
        },
        host,
      );
      continue;
    }
    const near = didYouMean(r.name, [...Object.keys(vars), ...knowns.registered, ...knowns.runtime]);
    sink.add(
      {
        loc,
        message: `undefined variable "${r.name}"`,
        hint:
          r.name === 'item'
            ? '"item" is only defined in a task that has "loop:" (or "with_items:")'
            : near
              ? `${near}`
              : `define "${r.name}" in the inventory (group_vars/host_vars), the play's vars, or with -e name=value`,
      },
      host,
    );
  }
  return ok ? { ok: true, runtime } : { ok: false };
}

function renderIssue(e: unknown, loc: Loc): Issue {
  if (e instanceof TemplateError) return { loc, message: e.message, hint: e.hint ?? 'fix the template' };
  return { loc, message: `cannot render: ${(e as Error).message}`, hint: 'fix the template' };
}

/** Render what can be rendered now; returns the rendered value and the run-time-dependent paths. */
function renderArgs(
  value: unknown,
  path: string,
  vars: Record<string, unknown>,
  task: TaskSpec,
  knowns: Knowns,
  sink: IssueSink,
  host: string,
  runtimePaths: Set<string>,
): unknown {
  const locFor = (p: string): Loc => task.argLocs.get(p) ?? task.argLocs.get('') ?? task.loc;
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return value;
    const c = checkNames(value, vars, knowns, locFor(path), sink, host);
    if (!c.ok || c.runtime) {
      runtimePaths.add(path);
      return value;
    }
    try {
      return renderValue(value, vars);
    } catch (e) {
      sink.add(renderIssue(e, locFor(path)), host);
      runtimePaths.add(path);
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => renderArgs(v, path ? `${path}.${i}` : String(i), vars, task, knowns, sink, host, runtimePaths));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderArgs(v, path ? `${path}.${k}` : k, vars, task, knowns, sink, host, runtimePaths)]),
    );
  }
  return value;
}

function argNames(mod: TaskModule): string[] {
  const shape = (mod.args as unknown as { shape?: Record<string, unknown> }).shape;
  return shape && typeof shape === 'object' ? Object.keys(shape) : [];
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<PropertyKey, unknown>)[k] : undefined), obj);
}

/** A zod issue as our Issue, at the arg's position. */
function zodIssue(task: TaskSpec, mod: TaskModule, zi: z.core.$ZodIssue, args: unknown): Issue {
  const raw = valueAt(task.args, zi.path);
  const path = zi.path.map(String).join('.');
  const loc = task.argLocs.get(path) ?? task.argLocs.get(zi.path.slice(0, -1).map(String).join('.')) ?? task.argLocs.get('') ?? task.loc;
  const value = valueAt(args, zi.path);
  if (zi.code === 'unrecognized_keys') {
    const key = zi.keys[0] ?? '?';
    const keyPath = path ? `${path}.${key}` : key;
    const near = didYouMean(key, argNames(mod));
    const at = task.argLocs.get(keyPath) ?? loc;
    const keyCol = at.text.indexOf(`${key}:`);
    return {
      loc: keyCol >= 0 ? { ...at, col: keyCol + 1 } : at,
      message: `unknown argument "${key}" for module ${mod.name} (expected: ${argNames(mod).join(', ')})`,
      hint: near || `remove "${key}"`,
    };
  }
  if (zi.code === 'invalid_type' && value === undefined) {
    return { loc, message: `module ${mod.name}: missing required argument "${path}" (expected ${zi.expected})`, hint: `add "${path}: ..." under ${mod.name}:` };
  }
  if (zi.code === 'invalid_type') {
    const got = typeOf(value);
    const quote = zi.expected === 'string' && (got === 'boolean' || got === 'number');
    if (typeof raw === 'string' && hasTemplate(raw)) {
      return {
        loc,
        message: `module ${mod.name}: argument "${path}" must be a ${zi.expected}, but ${JSON.stringify(raw)} renders to ${got} ${JSON.stringify(value)}`,
        hint: zi.expected === 'string' ? `convert it in the template: "{{ ... | string }}"` : `make the template render a ${zi.expected}`,
      };
    }
    return {
      loc,
      message: `module ${mod.name}: argument "${path}" must be a ${zi.expected}, got ${got} ${JSON.stringify(value)}`,
      hint: quote
        ? `quote the value so YAML keeps it a string: ${String(zi.path[zi.path.length - 1] ?? path)}: '${String(value)}'`
        : zi.expected === 'boolean' && got === 'string'
          ? `write true or false (YAML 1.2 reads ${JSON.stringify(value)} as a string)`
          : `give "${path}" a ${zi.expected}`,
    };
  }
  return { loc, message: `module ${mod.name}: ${path ? `argument "${path}": ` : ''}${zi.message}`, hint: `fix the ${mod.name} arguments` };
}

/** Validate args against the module schema, ignoring run-time-dependent paths. */
export function checkArgs(task: TaskSpec, mod: TaskModule, rendered: unknown, runtimePaths: Set<string>, sink: IssueSink, host: string): void {
  const r = mod.args.safeParse(rendered);
  if (r.success) return;
  const typos = new Set(
    r.error.issues.flatMap((zi) => (zi.code === 'unrecognized_keys' ? zi.keys.map((k) => closest(k, argNames(mod))).filter((k): k is string => k !== undefined) : [])),
  );
  for (const zi of r.error.issues) {
    if (zi.code === 'invalid_type' && zi.path.length === 1 && typos.has(String(zi.path[0])) && valueAt(rendered, zi.path) === undefined) continue;
    const path = zi.path.map(String).join('.');
    const dependsOnRuntime = [...runtimePaths].some((p) => path === p || path.startsWith(`${p}.`) || p.startsWith(`${path}.`) || (path === '' && runtimePaths.size > 0));
    if (dependsOnRuntime) continue;
    sink.add(zodIssue(task, mod, zi, rendered), host);
  }
}

/** All checks of one task on one host. */
export function checkTask(task: TaskSpec, mod: TaskModule | undefined, baseVars: Record<string, unknown>, knowns: Knowns, sink: IssueSink, host: string): void {
  const vars = { ...baseVars, ...task.vars };
  const key = (k: string): Loc => task.keyLocs?.get(k) ?? task.loc;
  if (task.when !== undefined) checkNames(task.when, vars, knowns, key('when'), sink, host, true);
  for (const [k, v] of [
    ['name', task.name],
    ['delegate_to', task.delegateTo],
    ['become_user', task.becomeUser],
  ] as const) {
    if (v !== undefined && hasTemplate(v)) checkNames(v, vars, { ...knowns, runtime: new Set([...knowns.runtime, task.loopVar]) }, key(k), sink, host);
  }
  const own = task.register ? new Set([...knowns.registered, task.register]) : knowns.registered;
  const withOwn: Knowns = { ...knowns, registered: own };
  if (task.changedWhen !== undefined) checkNames(task.changedWhen, vars, withOwn, key('changed_when'), sink, host, true);
  if (task.failedWhen !== undefined) checkNames(task.failedWhen, vars, withOwn, key('failed_when'), sink, host, true);

  // The loop: render it when it can be known now, and check the args once per item.
  let items: unknown[] | undefined;
  let loopKnowns = knowns;
  if (task.loop !== undefined) {
    const loopLoc = key(task.keyLocs?.has('loop') ? 'loop' : 'with_items');
    const loopSink = new IssueSink();
    const paths = new Set<string>();
    const rendered = renderArgs(task.loop, '', vars, task, knowns, loopSink, host, paths);
    for (const i of loopSink.issues(() => [])) sink.add({ ...i, loc: loopLoc }, host);
    if (paths.size === 0 && Array.isArray(rendered)) items = rendered.slice(0, 100);
    else if (paths.size === 0) {
      sink.add({ loc: loopLoc, message: `"loop" must be a list, got ${typeOf(rendered)}`, hint: 'write loop: [a, b] or loop: "{{ some_list }}"' }, host);
    }
    loopKnowns = items === undefined ? { ...knowns, runtime: new Set([...knowns.runtime, task.loopVar]) } : knowns;
  } else {
    loopKnowns = knowns;
  }
  const runs = items === undefined ? [vars] : items.map((item) => ({ ...vars, [task.loopVar]: item }));
  for (const v of runs) {
    // Args of a task that will be skipped are not checked (as in Ansible): `when` false with the
    // values known now. When it depends on run-time values, the args are checked as far as they can be.
    const mayRun = whenMayRun(task, v);
    const runtimePaths = new Set<string>();
    const rendered = renderArgs(task.args, '', v, task, loopKnowns, mayRun ? sink : new IssueSink(), host, runtimePaths);
    if (mod && mayRun) checkArgs(task, mod, rendered, runtimePaths, sink, host);
  }
}

function whenMayRun(task: TaskSpec, vars: Record<string, unknown>): boolean {
  if (task.when === undefined) return true;
  try {
    return evalCondition(task.when, vars);
  } catch {
    return true; // depends on run-time values: check what can be checked now
  }
}
