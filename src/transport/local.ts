/**
 * The local transport: the same Connection, run on the controller. Commands are spawned from argv
 * with no shell; become wraps them in `sudo -n -u user --` (skipped when we already are that user).
 * File operations share the command-based implementation of the SSH become path (shellfs.ts), so
 * atomic writes, modes and symlink replacement behave the same on both transports.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import type { Duplex } from 'node:stream';
import { ConnectionError } from '../errors.js';
import { withEnv } from '../shell/quote.js';
import { becomeTarget, signalExit, sudoArgv, sudoRefusal } from './command.js';
import { shellReadFile, shellStat, shellWriteAtomic } from './shellfs.js';
import type { RawResult, RawRunner } from './shellfs.js';
import type { CommandResult, Connection, ConnectionSpec, ExecOptions, RemoteStat, WriteOptions } from './types.js';

interface LocalRaw extends RawResult {
  signal: string | null;
}

export function connectLocal(spec: ConnectionSpec): Connection {
  return new LocalConnection(spec);
}

class LocalConnection implements Connection {
  readonly kind = 'local' as const;
  readonly host: string;
  private readonly me = userInfo().username;
  private closed = false;

  constructor(private readonly spec: ConnectionSpec) {
    this.host = spec.name;
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    const target = becomeTarget(this.spec, this.me, opts);
    // Without sudo the env goes to spawn; sudo resets the environment, so then it goes through `env`.
    const spawnEnv = target === null && opts.env ? { ...process.env, ...opts.env } : process.env;
    const r = await this.spawnRaw(this.wrap(argv, opts.env, target), { ...opts, spawnEnv });
    if (target !== null) {
      const refused = sudoRefusal(this.host, this.me, target, r.exitCode, r.stderr);
      if (refused) throw refused;
    }
    return { argv: [...argv], exitCode: r.exitCode, signal: r.signal, stdout: r.stdout.toString('utf8'), stderr: r.stderr, durationMs: Date.now() - started };
  }

  /** The argv actually spawned: env (through `env` when sudo resets it) and sudo. */
  private wrap(argv: readonly string[], env: Readonly<Record<string, string>> | undefined, target: string | null): string[] {
    if (target === null) return [...argv];
    return sudoArgv(target, withEnv(env ?? {}, argv));
  }

  private spawnRaw(argv: readonly string[], opts: Omit<ExecOptions, 'env'> & { spawnEnv?: NodeJS.ProcessEnv }): Promise<LocalRaw> {
    if (this.closed) return Promise.reject(new ConnectionError(`connection to ${this.host} is closed`, { host: this.host }));
    const [cmd, ...args] = argv;
    if (cmd === undefined) return Promise.reject(new Error('exec: empty argv'));
    const env = opts.spawnEnv ?? process.env;
    return new Promise((resolve, reject) => {
      // Its own process group, so a timeout or cancel kills everything it started (sudo's child too),
      // and a Ctrl-C at the terminal reaches the runner, which decides, not the command directly.
      const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      const errs: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      let failed: ConnectionError | undefined;
      const stop = (e: ConnectionError): void => {
        failed ??= e;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const onAbort = (): void => stop(new ConnectionError(`command on ${this.host} was cancelled`, { host: this.host }));
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => stop(new ConnectionError(`command on ${this.host} timed out after ${opts.timeoutMs}ms`, { host: this.host, hint: 'raise the task timeout, or check why the command hangs' })), opts.timeoutMs);
      }
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => errs.push(d));
      child.stdin.on('error', () => undefined);
      let spawnError: NodeJS.ErrnoException | undefined;
      child.on('error', (e: NodeJS.ErrnoException) => (spawnError = e));
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (failed) return reject(failed);
        if (spawnError) {
          // Like a shell would answer: 127 for a missing command, 126 for one we may not run.
          const exitCode = spawnError.code === 'ENOENT' ? 127 : 126;
          const cwdMissing = spawnError.code === 'ENOENT' && opts.cwd !== undefined;
          return resolve({ exitCode, signal: null, stdout: Buffer.alloc(0), stderr: `${cmd}: ${cwdMissing ? `cannot run (is ${opts.cwd} a directory?)` : spawnError.message}\n` });
        }
        const status = signal === null ? { exitCode: code ?? 0, signal: null } : signalExit(signal);
        resolve({ ...status, stdout: Buffer.concat(out), stderr: Buffer.concat(errs).toString('utf8') });
      });
      child.stdin.end(opts.stdin);
    });
  }

  private shellRunner(): RawRunner {
    const target = becomeTarget(this.spec, this.me);
    return async (argv, stdin) => {
      const r = await this.spawnRaw(target === null ? argv : sudoArgv(target, argv), { stdin });
      if (target !== null) {
        const refused = sudoRefusal(this.host, this.me, target, r.exitCode, r.stderr);
        if (refused) throw refused;
      }
      return r;
    };
  }

  stat(path: string): Promise<RemoteStat | null> {
    return shellStat(this.shellRunner(), this.host, path);
  }

  readFile(path: string): Promise<Buffer | null> {
    return shellReadFile(this.shellRunner(), this.host, path);
  }

  writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions): Promise<void> {
    return shellWriteAtomic(this.shellRunner(), this.host, path, data, opts);
  }

  forwardTcp(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      s.once('connect', () => resolve(s));
      s.once('error', (e) => reject(new ConnectionError(`cannot connect to ${host}:${port} from the controller: ${e.message}`, { host: this.host, cause: e })));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
