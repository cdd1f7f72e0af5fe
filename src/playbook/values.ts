/**
 * Reading keyword values from YAML nodes with Ansible's spellings (`become: yes`, `tags: a,b`,
 * `notify` as string or list, `when` as a list meaning "and"), recording an Issue with the node's
 * position for anything else.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import type { Issue } from './issues.js';
import { nodeLoc, toJS } from './source.js';
import type { YamlSource } from './source.js';

export interface ReadCtx {
  src: YamlSource;
  issues: Issue[];
}

function bad(ctx: ReadCtx, node: unknown, message: string, hint: string): undefined {
  ctx.issues.push({ loc: nodeLoc(ctx.src, node), message, hint });
  return undefined;
}

const TRUE = new Set(['yes', 'true', 'on', 'y']);
const FALSE = new Set(['no', 'false', 'off', 'n']);

/** true/false, or Ansible's yes/no/on/off (read from the YAML 1.2 string). */
export function readBool(ctx: ReadCtx, node: unknown, key: string): boolean | undefined {
  const v = toJS(ctx.src, node);
  if (v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && TRUE.has(v.toLowerCase())) return true;
  if (typeof v === 'string' && FALSE.has(v.toLowerCase())) return false;
  return bad(ctx, node, `"${key}" must be true or false, not ${JSON.stringify(v)}`, `write ${key}: true or ${key}: false`);
}

/** A scalar read as a string (numbers are accepted and stringified). */
export function readString(ctx: ReadCtx, node: unknown, key: string): string | undefined {
  if (!isScalar(node)) return bad(ctx, node, `"${key}" must be a single value, not a ${isSeq(node) ? 'list' : 'mapping'}`, `write ${key}: <value>`);
  const v = node.value;
  if (v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return bad(ctx, node, `"${key}" must be a string`, `write ${key}: <value>`);
}

/** A string, a comma-separated string, or a list of strings. */
export function readStringList(ctx: ReadCtx, node: unknown, key: string, splitCommas: boolean): string[] {
  if (node === null || node === undefined) return [];
  if (isSeq(node)) {
    return node.items.flatMap((item) => {
      const s = readString(ctx, item, key);
      return s === undefined ? [] : [s];
    });
  }
  const s = readString(ctx, node, key);
  if (s === undefined) return [];
  return splitCommas ? s.split(',').map((t) => t.trim()).filter(Boolean) : [s];
}

/** A condition: an expression string, a boolean, or a list of them (all must hold). */
export function readCondition(ctx: ReadCtx, node: unknown, key: string): string | undefined {
  if (isSeq(node)) {
    const parts = node.items.map((i) => readCondition(ctx, i, key)).filter((p): p is string => p !== undefined);
    return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : parts.map((p) => `(${p})`).join(' and ');
  }
  if (!isScalar(node)) return bad(ctx, node, `"${key}" must be an expression, true/false, or a list of expressions`, `write ${key}: some_var == 'value'`);
  const v = node.value;
  if (v === null) return undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/** A mapping of variables. */
export function readVars(ctx: ReadCtx, node: unknown, key: string): Record<string, unknown> {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return {};
  if (!isMap(node)) {
    bad(ctx, node, `"${key}" must be a mapping of variable names to values`, `write "${key}:" then one "name: value" per line, indented`);
    return {};
  }
  return (toJS(ctx.src, node) ?? {}) as Record<string, unknown>;
}
