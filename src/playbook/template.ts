/**
 * Jinja-compatible templating for playbooks (nunjucks underneath). Like Ansible: a string that is
 * exactly one `{{ expr }}` keeps the expression's native type, variables whose values are
 * templates are rendered when read, and an undefined variable is an error that names it (never an
 * empty string). Conditions (`when`, `changed_when`, `failed_when`) are bare expressions.
 */
import { createRequire } from 'node:module';
import nunjucks from 'nunjucks';
import { PlaybookError } from '../errors.js';
import type { FleetErrorOptions } from '../errors.js';
import { installFilters } from './filters.js';
import { didYouMean } from './suggest.js';
import {
  CAPTURE_FN,
  TRUTHY_FN,
  captureSingleExpression,
  collectRefs,
  hasTemplate,
  jinjaTruth,
  parseTemplate,
} from './template-ast.js';
import type { NjNode, VarRef } from './template-ast.js';

export { hasTemplate };

/** A template that cannot be rendered: an undefined variable, a syntax error, an unknown filter. */
export class TemplateError extends PlaybookError {
  /** The undefined variable, when that is the problem. */
  readonly variable: string | undefined;
  constructor(message: string, variable?: string, opts: FleetErrorOptions = {}) {
    super(message, opts);
    this.variable = variable;
  }
}

const require = createRequire(import.meta.url);
const transformer = require('nunjucks/src/transformer.js') as { transform(ast: NjNode, asyncFilters: string[], name?: string): NjNode };
const nj = nunjucks as unknown as {
  compiler: { Compiler: new (name: string, throwOnUndefined: boolean) => { compile(ast: NjNode): void; getCode(): string } };
  runtime: { Frame: new () => { lookup(name: string): unknown; push(isolate: boolean): unknown }; SafeString: new (s: string) => object };
};

const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });

// ---- strict undefined ------------------------------------------------------------------------

const UNDEF = Symbol('fleetplay.undefined');
interface UndefInfo {
  name: string;
  vars: Record<string, unknown>;
}

interface RenderState {
  vars: Record<string, unknown>;
  captured?: { value: unknown };
  error?: TemplateError;
  /** Variables whose template values are being rendered (cycle guard). */
  rendering: string[];
  cache: Map<string, unknown>;
}
const stack: RenderState[] = [];

function undefinedError(name: string, vars: Record<string, unknown>, message?: string): TemplateError {
  const near = didYouMean(name, Object.keys(vars));
  return new TemplateError(message ?? `undefined variable "${name}"`, name, {
    hint: near
      ? `${near} Otherwise define "${name}" in the inventory, the play's vars, or with -e`
      : `define "${name}" in the inventory (host_vars/group_vars), the play's vars, or with -e; or write "{{ ${name} | default(...) }}"`,
  });
}

/** Throw `err`, remembering it for the render in progress (nunjucks wraps what it catches). */
function raise(err: TemplateError, depth = 1): never {
  const top = stack[stack.length - depth];
  if (top && top.error === undefined) top.error = err;
  throw err;
}

function fail(info: UndefInfo, message?: string): never {
  return raise(undefinedError(info.name, info.vars, message));
}

const undefHandler: ProxyHandler<UndefInfo> = {
  get(t, p) {
    if (p === UNDEF) return t;
    if (typeof p === 'symbol') {
      if (p === Symbol.toPrimitive) return fail(t);
      return undefined;
    }
    if (p === 'toString' || p === 'valueOf' || p === 'toJSON') return fail(t);
    if (p === 'then' || p.startsWith('__')) return undefined;
    return makeUndefined(t.name, t.vars);
  },
  has(t) {
    return fail(t);
  },
  ownKeys(t) {
    return fail(t);
  },
  getOwnPropertyDescriptor() {
    return undefined;
  },
};

function makeUndefined(name: string, vars: Record<string, unknown>): object {
  return new Proxy<UndefInfo>({ name, vars }, undefHandler);
}

function undefInfo(v: unknown): UndefInfo | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  return (v as { [UNDEF]?: UndefInfo })[UNDEF];
}

/** True for the placeholder of an undefined variable. */
export function isUndefinedValue(v: unknown): boolean {
  return undefInfo(v) !== undefined;
}

/** Python's truth rules, and an error for an undefined variable in a condition. */
function truthy(v: unknown): boolean {
  const info = undefInfo(v);
  if (info) fail(info);
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map || v instanceof Set) return v.size > 0;
  if (v instanceof nj.runtime.SafeString) return String(v).length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

env.addGlobal(TRUTHY_FN, truthy);
env.addGlobal(CAPTURE_FN, (v: unknown) => {
  const top = stack[stack.length - 1];
  if (top) top.captured = { value: v };
  return '';
});
installFilters(env as never, {
  isUndefined: isUndefinedValue,
  fail: (v: unknown, message?: string) => {
    const info = undefInfo(v);
    return fail(info ?? { name: '?', vars: {} }, message);
  },
});

// Like Jinja's StrictUndefined: every filter but default/d/mandatory fails on an undefined input.
{
  const filters = (env as unknown as { filters: Record<string, (...args: unknown[]) => unknown> }).filters;
  for (const [name, fn] of Object.entries(filters)) {
    if (name === 'default' || name === 'd' || name === 'mandatory') continue;
    filters[name] = function strict(this: unknown, ...args: unknown[]): unknown {
      const info = undefInfo(args[0]);
      if (info) fail(info);
      return fn.apply(this, args);
    };
  }
}

const JINJA_LITERALS: Record<string, unknown> = { True: true, False: false, None: null };

/** The root frame: variables are looked up here, templated values rendered on first read. */
function rootFrame(state: RenderState): unknown {
  const frame = new nj.runtime.Frame();
  const globals = (env as unknown as { globals: Record<string, unknown> }).globals;
  frame.lookup = (name: string): unknown => {
    if (name in globals) return undefined;
    if (Object.prototype.hasOwnProperty.call(state.vars, name)) return readVar(state, name);
    if (name in JINJA_LITERALS) return JINJA_LITERALS[name];
    return makeUndefined(name, state.vars);
  };
  return frame;
}

const templated = new WeakMap<object, boolean>();

function containsTemplate(v: unknown, depth = 0): boolean {
  if (depth > 50) return false;
  if (typeof v === 'string') return hasTemplate(v);
  if (v === null || typeof v !== 'object') return false;
  const hit = templated.get(v);
  if (hit !== undefined) return hit;
  const values: unknown[] = Array.isArray(v) ? v : Object.values(v);
  const result = values.some((x) => containsTemplate(x, depth + 1));
  templated.set(v, result);
  return result;
}

/** Magic structures read as they are: other hosts' templated vars are not rendered here. */
const RAW_VARS = new Set(['hostvars', 'groups']);

function readVar(state: RenderState, name: string): unknown {
  const raw = state.vars[name];
  if (RAW_VARS.has(name) || !containsTemplate(raw)) return raw;
  if (state.cache.has(name)) return state.cache.get(name);
  if (state.rendering.includes(name)) {
    raise(
      new TemplateError(`variable "${name}" refers to itself (${[...state.rendering, name].join(' -> ')})`, name, {
        hint: 'break the loop: one of these variables must have a plain value',
      }),
    );
  }
  state.rendering.push(name);
  try {
    const value = renderDeep(raw, state);
    state.cache.set(name, value);
    return value;
  } finally {
    state.rendering.pop();
  }
}

// ---- compile and render ----------------------------------------------------------------------

interface Compiled {
  template: { render(ctx: object, frame: unknown): string };
  native: boolean;
}
const compiled = new Map<string, Compiled>();

function cleanNunjucksMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const lines = msg.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines[lines.length - 1] ?? msg;
  return last.replace(/^Error: /, '');
}

function compile(src: string): Compiled {
  const hit = compiled.get(src);
  if (hit) return hit;
  let result: Compiled;
  try {
    const ast = parseTemplate(src);
    const native = captureSingleExpression(ast);
    const c = new nj.compiler.Compiler('template', true);
    c.compile(transformer.transform(jinjaTruth(ast), [], 'template'));
    const props = new Function(c.getCode())() as object;
    const template = new nunjucks.Template({ type: 'code', obj: props } as never, env) as unknown as Compiled['template'];
    result = { template, native };
  } catch (e) {
    throw new TemplateError(`cannot parse template "${src}": ${cleanNunjucksMessage(e)}`, undefined, {
      hint: 'check the {{ }} and {% %} pairs, quotes and filter syntax',
      cause: e,
    });
  }
  compiled.set(src, result);
  return result;
}

function unsafe(v: unknown): unknown {
  return v instanceof nj.runtime.SafeString ? String(v) : v;
}

function renderFailure(src: string, e: unknown): TemplateError {
  const msg = cleanNunjucksMessage(e);
  if (/null or undefined/.test(msg)) {
    return new TemplateError(`a value in "${src}" is undefined or null`, undefined, {
      hint: 'an attribute or key in this expression does not exist or is empty; check its spelling or add "| default(...)"',
      cause: e,
    });
  }
  return new TemplateError(`cannot render "${src}": ${msg}`, undefined, { cause: e, hint: 'check the filter names and their arguments' });
}

function renderString(src: string, state: RenderState): unknown {
  if (!hasTemplate(src)) return src;
  const { template, native } = compile(src);
  const mine: RenderState = { ...state, captured: undefined, error: undefined };
  stack.push(mine);
  try {
    const out = template.render({}, rootFrame(mine));
    if (!native) return out;
    const value = unsafe(mine.captured?.value);
    const info = undefInfo(value);
    if (info) fail(info);
    if (value === undefined) {
      throw new TemplateError(`"${src}" is undefined`, undefined, {
        hint: 'an attribute or key in this expression does not exist; check its spelling or add "| default(...)"',
      });
    }
    return value;
  } catch (e) {
    // Hand the error to an enclosing render (a variable whose value is a template).
    raise(mine.error ?? (e instanceof TemplateError ? e : renderFailure(src, e)), 2);
  } finally {
    stack.pop();
  }
}

function renderDeep(value: unknown, state: RenderState): unknown {
  if (typeof value === 'string') return renderString(value, state);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, state));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, state)]));
  }
  return value;
}

function newState(vars: Record<string, unknown>): RenderState {
  return { vars, rendering: [], cache: new Map() };
}

/**
 * Render every template in `value` (deeply). A string that is exactly one `{{ expr }}` keeps the
 * expression's type (a list stays a list, a number a number). Throws TemplateError.
 */
export function renderValue(value: unknown, vars: Record<string, unknown>): unknown {
  return renderDeep(value, newState(vars));
}

/** Render to a string (for names and messages). */
export function renderText(s: string, vars: Record<string, unknown>): string {
  const v = renderValue(s, vars);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Strip one pair of `{{ }}` around a whole condition (Ansible warns but accepts it). */
function bareExpression(expr: string): string {
  const m = /^\s*\{\{(.*)\}\}\s*$/s.exec(expr);
  return m?.[1] !== undefined && !m[1].includes('}}') ? m[1] : expr;
}

/** Evaluate a `when`/`changed_when`/`failed_when` expression with Jinja's truth rules. */
export function evalCondition(expr: string | boolean, vars: Record<string, unknown>): boolean {
  if (typeof expr === 'boolean') return expr;
  const state = newState(vars);
  const value = renderString(`{{ ${TRUTHY_FN}(${bareExpression(expr)}) }}`, state);
  return value === true;
}

// ---- analysis --------------------------------------------------------------------------------

const refsCache = new Map<string, VarRef[]>();

/** Variables read by a template string, with whether each read is guarded (default / is defined). */
export function templateRefs(s: string, asCondition = false): VarRef[] {
  const src = asCondition ? `{{ ${bareExpression(s)} }}` : s;
  const hit = refsCache.get(src);
  if (hit) return hit;
  let refs: VarRef[];
  try {
    refs = collectRefs(parseTemplate(src));
  } catch (e) {
    throw new TemplateError(`cannot parse template "${s}": ${cleanNunjucksMessage(e)}`, undefined, {
      hint: 'check the {{ }} and {% %} pairs, quotes and filter syntax',
      cause: e,
    });
  }
  const globals = (env as unknown as { globals: Record<string, unknown> }).globals;
  refs = refs.filter((r) => !(r.name in globals) && !(r.name in JINJA_LITERALS));
  refsCache.set(src, refs);
  return refs;
}

/** Top-level variable names a template references (from the nunjucks AST), in first-use order. */
export function templateVariables(s: string): string[] {
  if (!hasTemplate(s)) return [];
  return [...new Set(templateRefs(s).map((r) => r.name))];
}

/** Names a condition references. */
export function conditionVariables(expr: string): string[] {
  return [...new Set(templateRefs(expr, true).map((r) => r.name))];
}
