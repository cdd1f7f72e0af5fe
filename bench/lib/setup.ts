/**
 * What the harness needs on the machine: Debian's ansible and ansible-mitogen packages, installed
 * with apt-get when missing (the issue asks the harness to do it). Versions for RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MITOGEN_STRATEGY_DIR } from './contenders.js';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function ensureAnsible(log: (s: string) => void): void {
  const missing = [has('ansible-playbook') ? null : 'ansible', existsSync(MITOGEN_STRATEGY_DIR) ? null : 'ansible-mitogen'].filter((p): p is string => p !== null);
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')} with apt-get (Debian packages; this takes a few minutes once) ...`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function firstLine(argv: string[]): string {
  try {
    return execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]?.trim() ?? '';
  } catch (e) {
    const err = e as { stderr?: Buffer | string };
    return String(err.stderr ?? '').split('\n')[0]?.trim() || 'not installed';
  }
}

export function versions(): Record<string, string> {
  return {
    node: process.version,
    openssh: firstLine(['sh', '-c', 'ssh -V 2>&1']),
    openssl: firstLine(['openssl', 'version']),
    ansible: firstLine(['ansible-playbook', '--version']),
    'ansible (Debian package)': firstLine(['dpkg-query', '-W', '-f', '${Version}', 'ansible']),
    mitogen: firstLine(['dpkg-query', '-W', '-f', '${Version}', 'ansible-mitogen']),
  };
}
