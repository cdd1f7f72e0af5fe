/**
 * How a Connection turns argv + ExecOptions into the one command string the remote login shell
 * runs: `cd -- dir &&`, `env K=V`, and become (`sudo -n -u user -- sh -c '...'`). All quoting goes
 * through src/shell/quote.ts. Also recognises sudo refusing to run without a password.
 */
import { constants } from 'node:os';
import { ConnectionError } from '../errors.js';
import { quoteArg, shellJoin, withEnv } from '../shell/quote.js';
import type { ConnectionSpec, ExecOptions } from './types.js';

/**
 * The user to sudo to for this command, or null for no sudo. Become applies when the connection
 * has it on, or the command names a becomeUser, unless the command says `become: false`; it is
 * skipped when the login user already is the target.
 */
export function becomeTarget(spec: Pick<ConnectionSpec, 'become' | 'becomeUser'>, loginUser: string, opts: ExecOptions = {}): string | null {
  if (opts.become === false) return null;
  if (!spec.become && opts.becomeUser === undefined) return null;
  const target = opts.becomeUser ?? spec.becomeUser;
  return target === loginUser ? null : target;
}

/** The command line for the remote shell. */
export function buildCommand(argv: readonly string[], opts: { cwd?: string; env?: Readonly<Record<string, string>> }, become: string | null): string {
  const cmd = shellJoin(withEnv(opts.env ?? {}, argv));
  const inner = opts.cwd === undefined ? cmd : `cd -- ${quoteArg(opts.cwd)} && ${cmd}`;
  return become === null ? inner : sudoArgv(become, ['sh', '-c', inner]).map(quoteArg).join(' ');
}

/** `sudo -n -u user -- argv`: never prompts; fails instead. */
export function sudoArgv(user: string, argv: readonly string[]): string[] {
  return ['sudo', '-n', '-u', user, '--', ...argv];
}

/** A ConnectionError when sudo refused to run the command (password needed, not allowed), else null. */
export function sudoRefusal(host: string, loginUser: string, target: string, exitCode: number, stderr: string): ConnectionError | null {
  if (exitCode !== 1) return null;
  if (/^sudo: (a password is required|a terminal is required)/m.test(stderr)) {
    return new ConnectionError(
      `sudo on ${host} asks for a password; fleetplay uses sudo -n: give ${loginUser} NOPASSWD for the commands, or connect as the target user (${target})`,
      { host, hint: `add a sudoers rule like "${loginUser} ALL=(${target}) NOPASSWD: ALL", or log in as ${target}` },
    );
  }
  if (/^Sorry, user \S+ is not allowed to execute|^sudo: .*(is not in the sudoers file|not allowed to run sudo)/m.test(stderr)) {
    return new ConnectionError(`sudo on ${host} does not allow ${loginUser} to run commands as ${target}`, {
      host,
      hint: `give ${loginUser} a sudoers rule for ${target}, or connect as ${target}`,
    });
  }
  return null;
}

/** A signal name as `SIGTERM`, and the exit code a shell would report for it (128 + number). */
export function signalExit(name: string): { signal: string; exitCode: number } {
  const signal = name.startsWith('SIG') ? name : `SIG${name}`;
  const num = (constants.signals as Record<string, number | undefined>)[signal];
  return { signal, exitCode: 128 + (num ?? 0) };
}
