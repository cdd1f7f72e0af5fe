/**
 * The pure text edits behind `lineinfile`, with Ansible's semantics: replace the last (or first)
 * line matching `regexp`, else insert after/before a marker or at the end; remove matching lines;
 * plus commenting matching lines out and back in. Line endings and every untouched line stay
 * byte for byte. Regexps are Python-style; `(?P<name>...)` and `\g<name>` are translated.
 */

export interface Line {
  text: string;
  /** '\n', '\r\n' or '' (last line without a newline). */
  eol: string;
}

export function splitLines(content: string): Line[] {
  const out: Line[] = [];
  const re = /([^\n]*?)(\r?\n)|([^\n]+)$/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(content)) !== null) {
    if (m[3] !== undefined) out.push({ text: m[3], eol: '' });
    else out.push({ text: m[1] ?? '', eol: m[2] ?? '\n' });
    if (m.index === re.lastIndex) re.lastIndex++;
  }
  return out;
}

export function joinLines(lines: readonly Line[]): string {
  return lines.map((l) => l.text + l.eol).join('');
}

/** The file's newline: CRLF when its first terminated line uses it. */
function newlineOf(lines: readonly Line[]): string {
  const first = lines.find((l) => l.eol !== '');
  return first?.eol ?? '\n';
}

/** Compile a Python-style regexp. Throws Error with the regexp in the message when invalid. */
export function pyRegExp(src: string): RegExp {
  const js = src.replace(/\(\?P</g, '(?<').replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>');
  try {
    return new RegExp(js);
  } catch (e) {
    throw new Error(`invalid regexp ${JSON.stringify(src)}: ${(e as Error).message}`);
  }
}

/** Python's match.expand: \1, \g<1>, \g<name>, \\ ; unmatched groups are empty. */
export function expandBackrefs(template: string, m: RegExpExecArray): string {
  return template.replace(/\\(?:g<([^>]+)>|(\d{1,2})|(\\))/g, (_all, g: string | undefined, d: string | undefined) => {
    if (g !== undefined) return (/^\d+$/.test(g) ? m[Number(g)] : m.groups?.[g]) ?? '';
    if (d !== undefined) return m[Number(d)] ?? '';
    return '\\';
  });
}

export interface LineSpec {
  regexp?: string | undefined;
  search_string?: string | undefined;
  line?: string | undefined;
  state: 'present' | 'absent';
  insertafter?: string | undefined;
  insertbefore?: string | undefined;
  backrefs: boolean;
  firstmatch: boolean;
  comment_out: boolean;
  uncomment: boolean;
}

export interface EditResult {
  content: string;
  changed: boolean;
  /** What changed, or why nothing did. */
  message: string;
}

function present(lines: Line[], s: LineSpec): EditResult {
  const line = s.line ?? '';
  const re = s.regexp !== undefined ? pyRegExp(s.regexp) : undefined;
  const insMarker = s.insertafter !== undefined && s.insertafter !== 'EOF' && s.insertafter !== 'BOF' ? s.insertafter : s.insertbefore !== undefined && s.insertbefore !== 'BOF' ? s.insertbefore : undefined;
  const insRe = insMarker !== undefined ? pyRegExp(insMarker) : undefined;
  let matchIdx = -1;
  let match: RegExpExecArray | null = null;
  let insIdx = -1;
  for (let i = 0; i < lines.length; i++) {
    const text = (lines[i] as Line).text;
    let found = false;
    if (re !== undefined) {
      const m = re.exec(text);
      if (m !== null) {
        found = true;
        match = m;
      }
    } else if (s.search_string !== undefined) found = text.includes(s.search_string);
    else found = text === line;
    if (found) {
      matchIdx = i;
      if (s.firstmatch) break;
    }
    if (insRe !== undefined && insRe.test(text)) {
      insIdx = s.insertafter !== undefined ? i + 1 : i;
      if (s.firstmatch) break;
    }
  }
  const unchanged = (message: string): EditResult => ({ content: joinLines(lines), changed: false, message });
  if (matchIdx >= 0) {
    const newLine = s.backrefs && match !== null ? expandBackrefs(line, match) : line;
    const cur = lines[matchIdx] as Line;
    if (cur.text === newLine) return unchanged(`line ${matchIdx + 1} already reads as wanted`);
    lines[matchIdx] = { text: newLine, eol: cur.eol };
    return { content: joinLines(lines), changed: true, message: `replace line ${matchIdx + 1}` };
  }
  if (s.backrefs) return unchanged(`no line matches ${s.regexp ?? ''}; with backrefs the file is left alone`);
  if ((re !== undefined || s.search_string !== undefined) && lines.some((l) => l.text === line)) {
    return unchanged('the line is already present');
  }
  const nl = newlineOf(lines);
  let at: number;
  if (s.insertbefore === 'BOF' || s.insertafter === 'BOF') at = 0;
  else if (insIdx >= 0) at = insIdx;
  else at = lines.length;
  const last = lines[lines.length - 1];
  if (at === lines.length && last !== undefined && last.eol === '') last.eol = nl;
  lines.splice(at, 0, { text: line, eol: nl });
  return { content: joinLines(lines), changed: true, message: at === lines.length - 1 ? 'add the line at the end' : `insert the line at line ${at + 1}` };
}

function absent(lines: Line[], s: LineSpec): EditResult {
  const re = s.regexp !== undefined ? pyRegExp(s.regexp) : undefined;
  const keep = lines.filter((l) =>
    re !== undefined ? !re.test(l.text) : s.search_string !== undefined ? !l.text.includes(s.search_string) : l.text !== s.line,
  );
  const removed = lines.length - keep.length;
  if (removed === 0) return { content: joinLines(lines), changed: false, message: 'no line matches; nothing to remove' };
  return { content: joinLines(keep), changed: true, message: `remove ${removed} line(s)` };
}

const COMMENTED = /^(\s*)#+ ?/;

function commentOut(lines: Line[], s: LineSpec): EditResult {
  const re = pyRegExp(s.regexp ?? '');
  let n = 0;
  for (const l of lines) {
    if (COMMENTED.test(l.text) || !re.test(l.text)) continue;
    l.text = `#${l.text}`;
    n++;
  }
  if (n === 0) return { content: joinLines(lines), changed: false, message: `no uncommented line matches ${s.regexp ?? ''}` };
  return { content: joinLines(lines), changed: true, message: `comment out ${n} line(s) matching ${s.regexp ?? ''}` };
}

function uncomment(lines: Line[], s: LineSpec): EditResult {
  const re = pyRegExp(s.regexp ?? '');
  let n = 0;
  for (const l of lines) {
    const m = COMMENTED.exec(l.text);
    if (m === null) continue;
    const bare = (m[1] ?? '') + l.text.slice(m[0].length);
    if (!re.test(bare)) continue;
    l.text = bare;
    n++;
  }
  if (n === 0) return { content: joinLines(lines), changed: false, message: `no commented-out line matches ${s.regexp ?? ''}` };
  return { content: joinLines(lines), changed: true, message: `uncomment ${n} line(s) matching ${s.regexp ?? ''}` };
}

/** Apply the spec to `content`. */
export function editLines(content: string, s: LineSpec): EditResult {
  const lines = splitLines(content);
  if (s.comment_out) return commentOut(lines, s);
  if (s.uncomment) return uncomment(lines, s);
  return s.state === 'present' ? present(lines, s) : absent(lines, s);
}
