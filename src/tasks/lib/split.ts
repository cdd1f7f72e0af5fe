/**
 * Splitting a free-form command line into argv the way a POSIX shell would (quotes, backslashes,
 * whitespace), without ever running a shell: `|`, `>`, `;`, `$VAR` stay literal characters, as in
 * Ansible's `command` module.
 */

/** Split `line` into words. Throws an Error naming the problem for an unterminated quote. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated single quote in command: ${line}`);
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i] as string;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length && '\\"$`\n'.includes(line[i + 1] as string)) {
          const e = line[i + 1] as string;
          if (e !== '\n') cur += e;
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      if (!closed) throw new Error(`unterminated double quote in command: ${line}`);
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < line.length) {
        const e = line[i + 1] as string;
        if (e !== '\n') {
          cur += e;
          inWord = true;
        }
        i += 2;
      } else {
        cur += c;
        inWord = true;
        i++;
      }
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
