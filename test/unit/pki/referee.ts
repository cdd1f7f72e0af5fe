/**
 * openssl(1) as the referee for pki tests: run it on temp files and read its verdicts.
 * Spawning openssl is for tests only; src/pki never does.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Workdir {
  dir: string;
  /** Write a file and return its path. */
  file(name: string, content: string | Buffer): string;
  cleanup(): void;
}

export function workdir(): Workdir {
  const dir = mkdtempSync(join(tmpdir(), 'fleetplay-pki-'));
  return {
    dir,
    file(name, content) {
      const p = join(dir, name);
      writeFileSync(p, content, { mode: 0o600 });
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run openssl; throws with stderr on failure. */
export function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

export function opensslBuf(args: string[]): Buffer {
  return execFileSync('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface OpensslVerdict {
  ok: boolean;
  code?: number;
  depth?: number;
  output: string;
}

/** `openssl verify` with the given args; the first "error N at depth D" is the verdict. */
export function opensslVerify(args: string[]): OpensslVerdict {
  const r = spawnSync('openssl', ['verify', ...args], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  const m = /error (\d+) at (\d+) depth/.exec(output);
  if (r.status === 0) return { ok: true, output };
  return m ? { ok: false, code: Number(m[1]), depth: Number(m[2]), output } : { ok: false, output };
}

/** openssl's date format ("Dec  3 16:46:46 2026 GMT") to a Date. */
export function opensslDate(text: string): Date {
  return new Date(text.replace(/^\w+=/, '').trim());
}
