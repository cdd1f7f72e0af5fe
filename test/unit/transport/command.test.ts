import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../../src/errors.js';
import { becomeTarget, buildCommand, sudoRefusal } from '../../../src/transport/command.js';

const dir = mkdtempSync(join(tmpdir(), 'fp-cmd-'));
const canary = join(dir, 'pwned');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NASTY = [
  'two words',
  "it's",
  'a"b',
  'x; touch ' + canary,
  `$(touch ${canary})`,
  '`touch ' + canary + '`',
  'line1\nline2',
  '-rf',
  '--',
  '',
  '*',
  '$HOME',
  '\\',
  'ünïcødé',
];

/** Run the command line the way sshd does (`$SHELL -c line`) and return the argv printf saw. */
function runLine(line: string): string[] {
  const out = execFileSync('bash', ['-c', line], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('buildCommand through a real shell', () => {
  it('delivers every argument literally and runs nothing', () => {
    const argv = ['printf', '%s\\0', ...NASTY];
    expect(runLine(buildCommand(argv, {}, null))).toEqual(NASTY);
    expect(existsSync(canary)).toBe(false);
  });

  it('changes to a cwd with spaces and quotes, and passes env values as data', () => {
    const cwd = join(dir, "my dir 'q'");
    mkdirSync(cwd);
    const line = buildCommand(['sh', '-c', 'pwd; printf "%s" "$V"'], { cwd, env: { V: `$(touch ${canary}); "x"` } }, null);
    expect(execFileSync('bash', ['-c', line], { encoding: 'utf8' })).toBe(`${cwd}\n$(touch ${canary}); "x"`);
    expect(existsSync(canary)).toBe(false);
  });

  it('keeps the arguments literal through sudo -n -u ... sh -c', () => {
    const line = buildCommand(['printf', '%s\\0', ...NASTY], { env: { A: 'b c' } }, 'nobody');
    expect(line.startsWith('sudo ')).toBe(true);
    expect(runLine(line)).toEqual(NASTY);
    expect(existsSync(canary)).toBe(false);
    expect(execFileSync('bash', ['-c', buildCommand(['id', '-un'], {}, 'nobody')], { encoding: 'utf8' })).toBe('nobody\n');
  });

  it('refuses an invalid env name', () => {
    expect(() => buildCommand(['true'], { env: { 'A;B': 'x' } }, null)).toThrow(/invalid environment variable name/);
  });
});

describe('becomeTarget', () => {
  const spec = { become: true, becomeUser: 'root' };
  it('skips sudo when the login user already is the target', () => {
    expect(becomeTarget(spec, 'root')).toBeNull();
    expect(becomeTarget(spec, 'deploy')).toBe('root');
  });
  it('honours per-command become: false and becomeUser', () => {
    expect(becomeTarget(spec, 'deploy', { become: false })).toBeNull();
    expect(becomeTarget(spec, 'root', { becomeUser: 'postgres' })).toBe('postgres');
    expect(becomeTarget({ become: false, becomeUser: 'root' }, 'root', { becomeUser: 'postgres' })).toBe('postgres');
    expect(becomeTarget({ become: false, becomeUser: 'root' }, 'deploy')).toBeNull();
  });
});

describe('sudoRefusal', () => {
  it('recognises sudo asking for a password', () => {
    const e = sudoRefusal('web1', 'deploy', 'root', 1, 'sudo: a password is required\n');
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e?.message).toContain('sudo on web1 asks for a password; fleetplay uses sudo -n: give deploy NOPASSWD');
  });
  it('leaves ordinary failures to the command result', () => {
    expect(sudoRefusal('web1', 'deploy', 'root', 1, 'grep: nothing\n')).toBeNull();
    expect(sudoRefusal('web1', 'deploy', 'root', 2, 'sudo: a password is required\n')).toBeNull();
  });
});
