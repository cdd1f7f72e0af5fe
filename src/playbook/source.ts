/**
 * Reading YAML with source positions, shared by the playbook and inventory loaders. Parses with
 * the YAML 1.2 core schema, so `NO`, `yes` and `on` stay strings (the "Norway problem"), and turns
 * the yaml package's errors (tabs, duplicate keys, syntax) into Issues that quote the line.
 */
import { readFileSync } from 'node:fs';
import { PlaybookError } from '../errors.js';
import { isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, isScalar, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import type { Issue } from './issues.js';
import type { Loc } from './types.js';

export interface YamlSource {
  /** The path shown in messages (relative to the working directory when inside it). */
  file: string;
  text: string;
  lines: string[];
  doc: Document.Parsed;
  lc: LineCounter;
}

/** The path as users should see it: relative to cwd when the file is below it. */
export function displayPath(file: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(process.cwd(), resolve(file));
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** Position of a byte offset. */
export function locAt(src: YamlSource, offset: number): Loc {
  const { line, col } = src.lc.linePos(offset);
  return { file: src.file, line, col, text: src.lines[line - 1] ?? '' };
}

/** Position of a node (its first character), or of `fallback` when the node has no range. */
export function nodeLoc(src: YamlSource, node: unknown, fallback?: Loc): Loc {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  if (range) return locAt(src, range[0]);
  return fallback ?? { file: src.file, line: 1, col: 1, text: src.lines[0] ?? '' };
}

/** The exact source text of a node (e.g. `0644` for a scalar YAML read as 644). */
export function nodeText(src: YamlSource, node: Node): string {
  const range = node.range;
  if (!range) return String((node as { value?: unknown }).value);
  return src.text.slice(range[0], range[1]);
}

/** Key of a pair as a string (YAML keys are scalars in our files). */
export function keyName(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

const TAB_INDENT = /^[ ]*\t/;

function tabIssues(src: YamlSource): Issue[] {
  const out: Issue[] = [];
  src.lines.forEach((text, i) => {
    if (!TAB_INDENT.test(text)) return;
    out.push({
      loc: { file: src.file, line: i + 1, col: text.indexOf('\t') + 1, text: text.replace(/\t/g, ' ') },
      message: 'a tab is used for indentation; YAML allows only spaces there',
      hint: 'replace the tab with spaces (2 per level is usual) and set your editor to insert spaces in YAML files',
    });
  });
  return out;
}

/** The earlier pair with the same key as the pair whose key starts at `offset`. */
function firstDuplicate(doc: Document.Parsed, offset: number): { name: string; first?: Pair } {
  let result: { name: string; first?: Pair } = { name: '?' };
  visit(doc, {
    Map(_key, map: YAMLMap) {
      const dup = map.items.find((p) => (p.key as Node | null)?.range?.[0] === offset);
      if (!dup) return undefined;
      const name = keyName(dup);
      const first = map.items.find((p) => p !== dup && keyName(p) === name);
      result = first ? { name, first } : { name };
      return visit.BREAK;
    },
  });
  return result;
}

function yamlIssues(src: YamlSource): Issue[] {
  const { doc } = src;
  if (doc.errors.length === 0) return [];
  const tabs = tabIssues(src);
  if (tabs.length > 0) return tabs;
  return doc.errors.map((e): Issue => {
    const loc = locAt(src, e.pos[0]);
    if (e.code === 'DUPLICATE_KEY') {
      const { name, first } = firstDuplicate(doc, e.pos[0]);
      const firstLine = first ? nodeLoc(src, first.key).line : undefined;
      return {
        loc,
        message: `duplicate key "${name}"${firstLine !== undefined ? ` (already set on line ${firstLine})` : ''}: YAML would silently keep only the last value`,
        hint: `keep one "${name}" entry in this mapping; merge the two values if both are needed`,
      };
    }
    if (e.code === 'TAB_AS_INDENT') {
      return { loc, message: 'a tab is used for indentation; YAML allows only spaces there', hint: 'replace the tab with spaces' };
    }
    return {
      loc,
      message: `YAML syntax error: ${e.message.split('\n')[0] ?? e.message}`,
      hint: 'check the indentation and the brackets/quotes on this line and the one before it',
    };
  });
}

/**
 * Read and parse a YAML file. Issues are returned, not thrown, so the caller can add its own;
 * when issues are returned the document must not be interpreted further.
 */
export function readYaml(file: string): { src?: YamlSource; issues: Issue[] } {
  const shown = displayPath(file);
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > MAX_YAML_BYTES) {
      return {
        issues: [
          {
            message: `${shown} is ${(bytes.length / 1048576).toFixed(1)} MiB; playbooks, inventories and vars files over ${MAX_YAML_BYTES / 1048576} MiB are refused`,
            hint: 'is this the right file? Split large host lists into group_vars/host_vars files',
          },
        ],
      };
    }
    const bad = firstInvalidUtf8(bytes);
    if (bad !== -1) {
      return {
        issues: [
          {
            message: `${shown} is not UTF-8 text (invalid byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')} at offset ${bad})`,
            hint: 'save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)',
          },
        ],
      };
    }
    text = bytes.toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      issues: [
        {
          message: `cannot read ${shown}: ${code === 'ENOENT' ? 'no such file' : code ?? String(e)}`,
          hint: 'check the path (it is relative to the directory you run fleetplay from)',
        },
      ],
    };
  }
  return parseYamlText(text, shown);
}

/** Parse YAML text that came from `file` (display path). */
export function parseYamlText(text: string, file: string): { src?: YamlSource; issues: Issue[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    keepSourceTokens: true,
    lineCounter: lc,
    schema: 'core',
    version: '1.2',
    uniqueKeys: true,
    prettyErrors: false,
    merge: true,
  });
  const src: YamlSource = { file, text, lines: text.split(/\r?\n/), doc, lc };
  return { src, issues: yamlIssues(src) };
}

/** Plain JS value of a node, aliases and merge keys resolved (core schema: strings stay strings). */
export function toJS(src: YamlSource, node: unknown): unknown {
  if (node === null || node === undefined) return null;
  const n = node as { toJS?: (doc: Document.Parsed, opts: { maxAliasCount: number }) => unknown };
  if (typeof n.toJS !== 'function') return node;
  try {
    return n.toJS(src.doc, { maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (e instanceof ReferenceError && /alias/i.test(e.message)) {
      throw new PlaybookError(`${src.file}: its YAML aliases expand too much (a "billion laughs" document?)`, {
        hint: 'use each anchor a few times at most; fleetplay refuses documents whose aliases would expand without bound',
        cause: e,
      });
    }
    throw e;
  }
}

/** Bounds that keep a hostile document from exhausting time or memory. */
export const MAX_YAML_BYTES = 8 * 1024 * 1024;
const MAX_ALIAS_COUNT = 1000;

/** Offset of the first byte that is not valid UTF-8, or -1. */
function firstInvalidUtf8(bytes: Buffer): number {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return -1;
  } catch {
    // Find the offset: decode growing prefixes would be quadratic; scan the bytes instead.
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i] ?? 0;
      const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
      if (len === 0 || i + len > bytes.length) return i;
      for (let k = 1; k < len; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
      i += len;
    }
    return 0;
  }
}
