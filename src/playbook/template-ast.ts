/**
 * The nunjucks AST, used two ways: to list the variables a template reads (for load-time checks,
 * before any host is touched), and to compile templates with Jinja's truth rules. nunjucks tests
 * conditions with JavaScript truthiness (`[]` is true there) and cannot notice an undefined name
 * under `not`/`and`/`or`; we route every condition through a `__fp_truthy` global instead.
 */
import nunjucks from 'nunjucks';

/** The untyped nunjucks node shape (its parser API is undocumented). */
export interface NjNode {
  typename: string;
  fields: string[];
  lineno: number;
  colno: number;
  value?: unknown;
  children?: NjNode[];
  [field: string]: unknown;
}

type NodeCtor = new (lineno: number, colno: number, ...fields: unknown[]) => NjNode;
const N = (nunjucks as unknown as { nodes: Record<string, NodeCtor> }).nodes;
const parser = (nunjucks as unknown as { parser: { parse(src: string, ext?: unknown, opts?: unknown): NjNode } }).parser;

export const TRUTHY_FN = '__fp_truthy';
export const CAPTURE_FN = '__fp_capture';

/** True when the string contains template syntax. */
export function hasTemplate(s: string): boolean {
  return s.includes('{{') || s.includes('{%');
}

export function parseTemplate(src: string): NjNode {
  return parser.parse(src, [], {});
}

function isNode(v: unknown): v is NjNode {
  return v !== null && typeof v === 'object' && typeof (v as NjNode).typename === 'string';
}

/** Child nodes of a node, in field order (NodeList children included). */
function childrenOf(node: NjNode): NjNode[] {
  const out: NjNode[] = [];
  if (Array.isArray(node.children) && !node.fields.includes('children')) out.push(...node.children.filter(isNode));
  for (const f of node.fields) {
    const v = node[f];
    if (isNode(v)) out.push(v);
    else if (Array.isArray(v)) out.push(...v.filter(isNode));
  }
  return out;
}

export interface VarRef {
  name: string;
  /** Only read under `default`/`d`, `is defined`/`is undefined`, so its absence is handled. */
  guarded: boolean;
}

const GUARD_FILTERS = new Set(['default', 'd']);
const GUARD_TESTS = new Set(['defined', 'undefined', 'none']);

/** The root Symbol of `a`, `a.b`, `a['b'].c`. */
function rootSymbol(node: NjNode): NjNode | undefined {
  let cur: NjNode | undefined = node;
  while (cur && cur.typename === 'LookupVal') cur = cur['target'] as NjNode | undefined;
  return cur && cur.typename === 'Symbol' ? cur : undefined;
}

function boundNames(target: unknown): string[] {
  if (!isNode(target)) return [];
  if (target.typename === 'Symbol') return [String(target.value)];
  return childrenOf(target).flatMap(boundNames);
}

/** Names that `cond` proves defined when it is true: `x is defined`, and both sides of `and`. */
function definedBy(cond: unknown): string[] {
  if (!isNode(cond)) return [];
  if (cond.typename === 'Group') return childrenOf(cond).flatMap(definedBy);
  if (cond.typename === 'And') return [...definedBy(cond['left']), ...definedBy(cond['right'])];
  if (cond.typename === 'Is') {
    const right = cond['right'] as NjNode | undefined;
    const root = rootSymbol(cond['left'] as NjNode);
    if (right?.typename === 'Symbol' && right.value === 'defined' && root) return [String(root.value)];
  }
  return [];
}

/** Every variable read by a template, with whether each read is guarded. */
export function collectRefs(ast: NjNode): VarRef[] {
  const refs: VarRef[] = [];
  let proven = new Set<string>();
  const under = (names: string[], fn: () => void): void => {
    const saved = proven;
    proven = new Set([...proven, ...names]);
    fn();
    proven = saved;
  };
  const walk = (node: NjNode, scope: ReadonlySet<string>, guarded: boolean): void => {
    switch (node.typename) {
      case 'Symbol': {
        const name = String(node.value);
        if (!scope.has(name)) refs.push({ name, guarded: guarded || proven.has(name) });
        return;
      }
      case 'And': {
        walk(node['left'] as NjNode, scope, guarded);
        under(definedBy(node['left']), () => walk(node['right'] as NjNode, scope, guarded));
        return;
      }
      case 'If':
      case 'IfAsync':
      case 'InlineIf': {
        walk(node['cond'] as NjNode, scope, guarded);
        under(definedBy(node['cond']), () => {
          if (isNode(node['body'])) walk(node['body'], scope, guarded);
        });
        if (isNode(node['else_'])) walk(node['else_'], scope, guarded);
        return;
      }
      case 'Filter':
      case 'FilterAsync': {
        const args = childrenOf(node['args'] as NjNode);
        const name = String((node['name'] as NjNode | undefined)?.value ?? '');
        args.forEach((a, i) => {
          const g = i === 0 && GUARD_FILTERS.has(name) && rootSymbol(a) !== undefined;
          walk(a, scope, guarded || g);
        });
        return;
      }
      case 'Is': {
        const right = node['right'] as NjNode | undefined;
        const test = right?.typename === 'Symbol' ? String(right.value) : undefined;
        const left = node['left'] as NjNode;
        walk(left, scope, guarded || (test !== undefined && GUARD_TESTS.has(test) && rootSymbol(left) !== undefined));
        if (right && right.typename === 'FunCall') childrenOf(right['args'] as NjNode).forEach((a) => walk(a, scope, guarded));
        return;
      }
      case 'LookupVal': {
        walk(node['target'] as NjNode, scope, guarded);
        const val = node['val'] as NjNode | undefined;
        if (val && val.typename !== 'Literal') walk(val, scope, guarded);
        return;
      }
      case 'For':
      case 'AsyncEach':
      case 'AsyncAll': {
        walk(node['arr'] as NjNode, scope, guarded);
        const inner = new Set([...scope, ...boundNames(node['name']), 'loop']);
        const body = node['body'];
        if (isNode(body)) walk(body, inner, guarded);
        const els = node['else_'];
        if (isNode(els)) walk(els, scope, guarded);
        return;
      }
      case 'Set': {
        const value = node['value'];
        if (isNode(value)) walk(value, scope, guarded);
        const body = node['body'];
        if (isNode(body)) walk(body, scope, guarded);
        for (const n of boundNames(node['targets'])) (scope as Set<string>).add(n);
        return;
      }
      case 'KeywordArgs':
      case 'Dict': {
        for (const pair of childrenOf(node)) {
          const v = pair['value'];
          if (isNode(v)) walk(v, scope, guarded);
        }
        return;
      }
      default:
        for (const c of childrenOf(node)) walk(c, scope, guarded);
    }
  };
  walk(ast, new Set<string>(), false);
  return refs;
}

function wrapTruthy(node: NjNode): NjNode {
  const sym = new N['Symbol']!(node.lineno, node.colno, TRUTHY_FN);
  const args = new N['NodeList']!(node.lineno, node.colno, [node]);
  return new N['FunCall']!(node.lineno, node.colno, sym, args);
}

/** Rewrite conditions to Jinja truth rules (see file header). Mutates and returns the AST. */
export function jinjaTruth(node: NjNode): NjNode {
  for (const f of node.fields) {
    const v = node[f];
    if (isNode(v)) node[f] = jinjaTruth(v);
  }
  if (Array.isArray(node.children)) node.children = node.children.map((c) => (isNode(c) ? jinjaTruth(c) : c));
  switch (node.typename) {
    case 'If':
    case 'IfAsync':
    case 'InlineIf':
      node['cond'] = wrapTruthy(node['cond'] as NjNode);
      return node;
    case 'Not':
      node['target'] = wrapTruthy(node['target'] as NjNode);
      return node;
    case 'And': {
      // a and b  ==  b if truthy(a) else a   (keeps Jinja's "returns an operand" rule)
      const a = node['left'] as NjNode;
      return new N['InlineIf']!(node.lineno, node.colno, wrapTruthy(a), node['right'], a);
    }
    case 'Or': {
      const a = node['left'] as NjNode;
      return new N['InlineIf']!(node.lineno, node.colno, wrapTruthy(a), a, node['right']);
    }
    default:
      return node;
  }
}

/** When the whole string is one `{{ expr }}`, wrap expr in the capture call (native result). */
export function captureSingleExpression(ast: NjNode): boolean {
  const top = ast.children ?? [];
  if (top.length !== 1 || top[0]?.typename !== 'Output') return false;
  const parts = top[0].children ?? [];
  const only = parts[0];
  if (parts.length !== 1 || !only || only.typename === 'TemplateData') return false;
  const sym = new N['Symbol']!(only.lineno, only.colno, CAPTURE_FN);
  top[0].children = [new N['FunCall']!(only.lineno, only.colno, sym, new N['NodeList']!(only.lineno, only.colno, [only]))];
  return true;
}
