/**
 * The pure text edit behind `ini`: set or remove one option in one section and leave every other
 * byte alone — comments, blank lines, order, and the file's `key = value` vs `key=value` style.
 * Only active (uncommented) option lines count; `;`/`#` comments are never rewritten.
 */
import { joinLines, splitLines, type Line } from './lineedit.js';

const SECTION = /^\s*\[([^\]]*)\]\s*$/;
const OPTION = /^(\s*)([^=:#;\s[][^=:]*?)(\s*[=:]\s*)(.*?)(\s*)$/;

export interface IniSpec {
  /** undefined: the part before the first section header. */
  section?: string | undefined;
  option: string;
  value?: string | undefined;
  state: 'present' | 'absent';
  /** Separator for new lines when the file shows no style: ' = ' by default, '=' with no_extra_spaces. */
  noExtraSpaces: boolean;
}

export interface IniEdit {
  content: string;
  changed: boolean;
  message: string;
}

/** [start, end) line ranges of the wanted section's body (after its header), or null. */
function sectionRange(lines: readonly Line[], section: string | undefined): { header: number; start: number; end: number } | null {
  let cur: string | undefined;
  let header = -1;
  let start = section === undefined ? 0 : -1;
  for (let i = 0; i < lines.length; i++) {
    const m = SECTION.exec((lines[i] as Line).text);
    if (m === null) continue;
    if (start >= 0 && cur === section) return { header, start, end: i };
    cur = (m[1] ?? '').trim();
    if (cur === section) {
      header = i;
      start = i + 1;
    }
  }
  if (start >= 0 && cur === section) return { header, start, end: lines.length };
  return null;
}

/** The separator style the file uses (first active option line), or the default. */
function separatorOf(lines: readonly Line[], spec: IniSpec, range: { start: number; end: number } | null): string {
  const own = range === null ? [] : lines.slice(range.start, range.end);
  for (const l of [...own, ...lines]) {
    if (SECTION.test(l.text)) continue;
    const m = OPTION.exec(l.text);
    if (m !== null) return m[3] ?? '=';
  }
  return spec.noExtraSpaces ? '=' : ' = ';
}

function where(spec: IniSpec): string {
  return spec.section === undefined ? spec.option : `[${spec.section}] ${spec.option}`;
}

export function editIni(content: string, spec: IniSpec): IniEdit {
  const lines = splitLines(content);
  const nl = lines.find((l) => l.eol !== '')?.eol ?? '\n';
  const range = sectionRange(lines, spec.section);
  const matches: number[] = [];
  if (range !== null) {
    for (let i = range.start; i < range.end; i++) {
      const m = OPTION.exec((lines[i] as Line).text);
      if (m !== null && m[2] === spec.option) matches.push(i);
    }
  }
  const unchanged = (message: string): IniEdit => ({ content, changed: false, message });

  if (spec.state === 'absent') {
    if (matches.length === 0) return unchanged(`${where(spec)} is not set`);
    const drop = new Set(matches);
    return { content: joinLines(lines.filter((_, i) => !drop.has(i))), changed: true, message: `remove ${where(spec)}` };
  }

  const value = spec.value ?? '';
  if (matches.length > 0) {
    let changed = false;
    for (const i of matches) {
      const l = lines[i] as Line;
      const m = OPTION.exec(l.text) as RegExpExecArray;
      if ((m[4] ?? '') === value) continue;
      l.text = `${m[1] ?? ''}${m[2] ?? ''}${m[3] ?? '='}${value}${m[5] ?? ''}`;
      changed = true;
    }
    if (!changed) return unchanged(`${where(spec)} is already ${value}`);
    return { content: joinLines(lines), changed: true, message: `set ${where(spec)} to ${value}` };
  }

  const newLine = `${spec.option}${separatorOf(lines, spec, range)}${value}`;
  if (range === null) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.eol === '') last.eol = nl;
    if (spec.section !== undefined) {
      if (last !== undefined && last.text.trim() !== '') lines.push({ text: '', eol: nl });
      lines.push({ text: `[${spec.section}]`, eol: nl });
    }
    lines.push({ text: newLine, eol: nl });
    return { content: joinLines(lines), changed: true, message: `add ${where(spec)} = ${value}${spec.section !== undefined ? ' in a new section' : ''}` };
  }
  // After the last non-blank line of the section, so the blank line before the next header stays.
  let at = range.start;
  for (let i = range.start; i < range.end; i++) if ((lines[i] as Line).text.trim() !== '') at = i + 1;
  const prev = lines[at - 1];
  if (prev !== undefined && prev.eol === '') prev.eol = nl;
  lines.splice(at, 0, { text: newLine, eol: nl });
  return { content: joinLines(lines), changed: true, message: `add ${where(spec)} = ${value}` };
}
