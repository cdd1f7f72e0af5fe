/**
 * The SSH transport, and the only file that imports ssh2. One client per host for the whole run;
 * exec channels are multiplexed on it (at most 8 at once, below OpenSSH's MaxSessions of 10, the
 * SFTP session takes one more); one SFTP session, opened on first use, does the file work of a
 * non-become connection. Under become, file work goes through sudo'd commands (shellfs.ts).
 * Host keys are checked against known_hosts (knownhosts.ts) before authentication.
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
// ssh2 is CommonJS: its named exports are reached through the default export.
import ssh2 from 'ssh2';
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper, Stats } from 'ssh2';
import { ConnectionError, TaskError } from '../errors.js';
import { shellJoin } from '../shell/quote.js';
import { becomeTarget, buildCommand, signalExit, sudoRefusal } from './command.js';
import { preferredHostKeyAlgorithms, readKnownHosts, verifyHostKey } from './knownhosts.js';
import { Semaphore } from './semaphore.js';
import { shellReadFile, shellStat, shellWriteAtomic, tempPathFor, ownerSpec } from './shellfs.js';
import type { RawResult, RawRunner } from './shellfs.js';
import type { CommandResult, Connection, ConnectionSpec, ExecOptions, RemoteStat, WriteOptions } from './types.js';

/** Exec channels open at once on one connection. */
export const MAX_EXEC_CHANNELS = 8;

interface RawExec extends RawResult {
  signal: string | null;
}

interface Auth {
  config: Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent' | 'password'>;
  tried: string[];
}

function where(spec: ConnectionSpec): string {
  return `${spec.user}@${spec.address}:${spec.port}`;
}

/** Key, agent and password settings from the spec; secrets come from the named env vars. */
function buildAuth(spec: ConnectionSpec): Auth {
  const config: Auth['config'] = {};
  const tried: string[] = [];
  if (spec.privateKeyFile !== undefined) {
    let data: Buffer;
    try {
      data = readFileSync(spec.privateKeyFile);
    } catch (e) {
      throw new ConnectionError(`cannot read private key ${spec.privateKeyFile}`, { host: spec.name, cause: e, hint: 'check private_key_file in the inventory' });
    }
    const passphrase = spec.privateKeyPassphraseEnv === undefined ? undefined : process.env[spec.privateKeyPassphraseEnv];
    if (spec.privateKeyPassphraseEnv !== undefined && passphrase === undefined) {
      throw new ConnectionError(`the passphrase variable $${spec.privateKeyPassphraseEnv} for ${spec.privateKeyFile} is not set`, { host: spec.name, hint: `export ${spec.privateKeyPassphraseEnv} before running` });
    }
    const parsed = ssh2.utils.parseKey(data, passphrase);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase|decrypt/i.test(parsed.message);
      throw new ConnectionError(`cannot use private key ${spec.privateKeyFile}: ${encrypted ? 'it is encrypted and the passphrase is missing or wrong' : 'unsupported or malformed key'}`, {
        host: spec.name,
        hint: encrypted ? 'name the env var holding its passphrase (private_key_passphrase_env)' : 'use an OpenSSH or PEM private key file',
      });
    }
    config.privateKey = data;
    if (passphrase !== undefined) config.passphrase = passphrase;
    tried.push(`key ${spec.privateKeyFile}`);
  }
  if (spec.useAgent) {
    const sock = process.env.SSH_AUTH_SOCK;
    if (sock === undefined || sock === '') {
      throw new ConnectionError('use_agent is set but SSH_AUTH_SOCK is not', { host: spec.name, hint: 'start ssh-agent and add your key, or use a key file' });
    }
    config.agent = sock;
    tried.push('ssh-agent');
  }
  if (spec.passwordEnv !== undefined) {
    const pw = process.env[spec.passwordEnv];
    if (pw === undefined) throw new ConnectionError(`the password variable $${spec.passwordEnv} is not set`, { host: spec.name, hint: `export ${spec.passwordEnv} before running` });
    config.password = pw;
    tried.push(`password from $${spec.passwordEnv}`);
  }
  if (tried.length === 0) throw new ConnectionError(`no authentication configured for ${where(spec)}`, { host: spec.name, hint: 'set a private key file, use_agent, or a password env var' });
  return { config, tried };
}

function connectError(spec: ConnectionSpec, err: Error & { level?: string; code?: string }, tried: string[]): ConnectionError {
  const host = spec.name;
  if (err.level === 'client-authentication') {
    return new ConnectionError(`authentication failed for ${where(spec)} (tried: ${tried.join(', ')})`, { host, cause: err, hint: 'check the user, the key in authorized_keys, or the agent/password' });
  }
  if (err.level === 'client-timeout') {
    return new ConnectionError(`connecting to ${where(spec)} timed out after ${spec.connectTimeoutMs}ms`, { host, cause: err, hint: 'is the host up and the port reachable?' });
  }
  if (err.code === 'ECONNREFUSED') {
    return new ConnectionError(`connection refused by ${spec.address}:${spec.port}`, { host, cause: err, hint: 'is sshd running and listening on that address and port?' });
  }
  return new ConnectionError(`cannot connect to ${where(spec)}: ${err.message}`, { host, cause: err });
}

function openClient(spec: ConnectionSpec, signal?: AbortSignal): Promise<Client> {
  const auth = buildAuth(spec);
  const prefer = preferredHostKeyAlgorithms(readKnownHosts(spec.knownHostsFile), spec.address, spec.port);
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyError: unknown;
    let settled = false;
    const done = (e: unknown): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      client.destroy();
      reject(e);
    };
    const onAbort = (): void => done(new ConnectionError(`connecting to ${where(spec)} was cancelled`, { host: spec.name }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      resolve(client);
    });
    client.on('error', (err) => done(hostKeyError ?? connectError(spec, err, auth.tried)));
    client.once('close', () => done(hostKeyError ?? new ConnectionError(`connection to ${where(spec)} closed during login`, { host: spec.name })));
    try {
      client.connect({
        host: spec.address,
        port: spec.port,
        username: spec.user,
        ...auth.config,
        readyTimeout: spec.connectTimeoutMs,
        keepaliveInterval: spec.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer): boolean => {
          try {
            verifyHostKey({ host: spec.name, ...spec }, key);
            return true;
          } catch (e) {
            hostKeyError = e;
            return false;
          }
        },
        ...(prefer.length > 0 ? { algorithms: { serverHostKey: { prepend: prefer, append: [], remove: [] } } } : {}),
      } as ConnectConfig);
    } catch (e) {
      done(new ConnectionError(`cannot connect to ${where(spec)}: ${e instanceof Error ? e.message : String(e)}`, { host: spec.name, cause: e }));
    }
  });
}

/** Connect, check the host key, log in; the returned Connection serves the whole run. */
export async function connectSsh(spec: ConnectionSpec, opts: { signal?: AbortSignal } = {}): Promise<Connection> {
  return new SshConnection(spec, await openClient(spec, opts.signal));
}

type SftpError = Error & { code?: number };
const SFTP_NO_SUCH_FILE = 2;

/**
 * Every command first reports its shell's PID on stderr (stripped from the result). sshd starts the
 * shell in a new session, so that PID is the process group of everything the command starts,
 * sudo and its child included: on timeout or cancel we kill that group with a second command.
 * (Closing the channel leaves the command running: no pty, no SIGHUP; and OpenSSH refuses `signal`
 * requests on root logins, which run without post-auth privilege separation.)
 */
const PID_MARK = '__fleetplay_pid=';
/**
 * Login noise (~/.ssh/rc, a chatty .bashrc) is written to the session's stdout before the command
 * runs: a marker line on stdout separates it from the command's own output, which starts after it.
 */
const OUT_MARK = '__fleetplay_out__\n';
const PID_PREFIX = `echo ${PID_MARK}$$ >&2; echo ${OUT_MARK.trim()}; `;

/** The command's stdout: what follows the first marker line (anything before it is login noise). */
export function stripOutMark(out: Buffer): Buffer {
  const i = out.indexOf(OUT_MARK);
  return i < 0 ? out : out.subarray(i + OUT_MARK.length);
}
const PID_LINE = new RegExp(`(^|\\n)${PID_MARK}(\\d+)\\n`);

/** The command's PID from the stderr seen so far, and stderr without the marker line. */
export function splitPidMark(stderr: string): { pid: number | null; rest: string } {
  const m = PID_LINE.exec(stderr);
  if (m === null) return { pid: null, rest: stderr };
  return { pid: Number(m[2]), rest: stderr.slice(0, m.index) + (m[1] ?? '') + stderr.slice(m.index + m[0].length) };
}

class SshConnection implements Connection {
  readonly kind = 'ssh' as const;
  readonly host: string;
  private readonly sem = new Semaphore(MAX_EXEC_CHANNELS);
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private broken: ConnectionError | undefined;
  /** Rejecters of the calls in flight: a lost connection fails them all at once. */
  private readonly pending = new Set<(e: ConnectionError) => void>();
  private closing = false;
  private readonly names = new Map<string, string>();

  constructor(
    private readonly spec: ConnectionSpec,
    private readonly client: Client,
  ) {
    this.host = spec.name;
    let lastError: unknown;
    client.on('error', (e) => (lastError = e));
    client.once('close', () => {
      this.broken = this.closing
        ? new ConnectionError(`connection to ${this.host} is closed`, { host: this.host })
        : new ConnectionError(`connection to ${this.host} lost`, { host: this.host, cause: lastError, hint: 'the host went down or the network dropped; rerun, or roll back this run' });
      for (const reject of [...this.pending]) reject(this.broken);
      this.pending.clear();
    });
  }

  private guard<T>(p: Promise<T>): Promise<T> {
    // The caller built `p` already; once the connection is gone it may reject ("Not connected")
    // after we stopped listening, which must not surface as an unhandled rejection.
    p.catch(() => undefined);
    if (this.broken) return Promise.reject(this.broken);
    // Not Promise.race with a never-settling "lost" promise: every race would stay attached to it
    // and keep its result (command output, file bytes) alive for the whole run.
    return new Promise<T>((resolve, reject) => {
      const fail = (e: ConnectionError): void => reject(e);
      this.pending.add(fail);
      p.then(
        (v) => {
          this.pending.delete(fail);
          resolve(v);
        },
        (e: unknown) => {
          this.pending.delete(fail);
          reject(e);
        },
      );
    });
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    const target = becomeTarget(this.spec, this.spec.user, opts);
    const cmd = buildCommand(argv, opts, target);
    const r = await this.runRaw(cmd, target, opts.stdin, opts.timeoutMs, opts.signal);
    const stderr = r.stderr;
    if (target !== null) {
      const refused = sudoRefusal(this.host, this.spec.user, target, r.exitCode, stderr);
      if (refused) throw refused;
    }
    return { argv: [...argv], exitCode: r.exitCode, signal: r.signal, stdout: r.stdout.toString('utf8'), stderr, durationMs: Date.now() - started };
  }

  /** One exec channel: the command string as is; stdout kept as bytes. */
  private async runRaw(cmd: string, target: string | null, stdin?: string | Buffer, timeoutMs?: number, signal?: AbortSignal): Promise<RawExec> {
    if (this.broken) throw this.broken;
    const release = await this.guard(this.sem.acquire());
    try {
      return await this.guard(this.channel(cmd, target, stdin, timeoutMs, signal));
    } finally {
      release();
    }
  }

  /** Kill a timed-out or cancelled command's process group (as the login user, and as `target`). */
  private killGroup(pid: number, target: string | null): void {
    const argv = ['kill', '-KILL', '--', `-${pid}`];
    const cmds = [shellJoin(argv)];
    if (target !== null && this.spec.user !== 'root') cmds.push(buildCommand(argv, {}, target));
    for (const c of cmds) this.runRaw(c, null, undefined, 10_000).catch(() => undefined);
  }

  private channel(cmd: string, target: string | null, stdin?: string | Buffer, timeoutMs?: number, signal?: AbortSignal): Promise<RawExec> {
    return new Promise((resolve, reject) => {
      let ch: ClientChannel | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      let pid: number | null = null;
      let killWanted = false;
      const kill = (): void => {
        if (pid === null || !killWanted) return;
        killWanted = false;
        this.killGroup(pid, target);
      };
      const finish = (e: Error | null, r?: RawExec): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (e) {
          if (ch) {
            // the PID may still be on its way when a short timeout fires: kill() runs when it lands
            killWanted = true;
            kill();
            ch.close();
          }
          reject(e);
        } else resolve(r as RawExec);
      };
      const onAbort = (): void => finish(new ConnectionError(`command on ${this.host} was cancelled`, { host: this.host }));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => finish(new ConnectionError(`command on ${this.host} timed out after ${timeoutMs}ms`, { host: this.host, hint: 'raise the task timeout, or check why the command hangs' })), timeoutMs);
      }
      // sshd frees a session slot only once it has reaped the command's process, which can be a
      // moment after the channel closed: a refused open is retried briefly before it counts.
      const open = (attempt: number): void => {
        if (settled) return;
        this.client.exec(PID_PREFIX + cmd, (err, channel) => (err ? opened(err, attempt) : run(channel)));
      };
      const opened = (err: Error, attempt: number): void => {
        if (/open failed/i.test(err.message) && attempt < 8 && !this.broken) {
          setTimeout(() => open(attempt + 1), Math.min(10 * 2 ** attempt, 250));
          return;
        }
        finish(new ConnectionError(`cannot open a command channel on ${this.host}: ${err.message}`, { host: this.host, cause: err, hint: 'the server refuses new sessions: check MaxSessions in its sshd_config (fleetplay needs 9)' }));
      };
      const run = (channel: ClientChannel): void => {
        ch = channel;
        if (settled) return void channel.close();
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code: number | null = null;
        let sig: string | null = null;
        channel.on('data', (d: Buffer) => out.push(d));
        channel.stderr.on('data', (d: Buffer) => {
          errs.push(d);
          if (pid === null) {
            pid = splitPidMark(Buffer.concat(errs).toString('utf8')).pid;
            kill();
          }
        });
        channel.on('exit', (c: number | null, s?: string) => {
          if (typeof c === 'number') code = c;
          else sig = s ?? null;
        });
        channel.on('close', () => {
          if (code === null && sig === null) {
            return finish(new ConnectionError(`connection to ${this.host} lost (the command ended without an exit status)`, { host: this.host }));
          }
          const status = sig === null ? { exitCode: code ?? 0, signal: null } : signalExit(sig);
          finish(null, { ...status, stdout: stripOutMark(Buffer.concat(out)), stderr: splitPidMark(Buffer.concat(errs).toString('utf8')).rest });
        });
        channel.on('error', (e: Error) => finish(new ConnectionError(`command channel on ${this.host} failed: ${e.message}`, { host: this.host, cause: e })));
        channel.end(stdin);
      };
      open(0);
    });
  }

  /** A RawRunner for shellfs, through become when the connection uses it. */
  private shellRunner(target: string): RawRunner {
    return async (argv, stdin) => {
      const r = await this.runRaw(buildCommand(argv, {}, target), target, stdin);
      const refused = sudoRefusal(this.host, this.spec.user, target, r.exitCode, r.stderr);
      if (refused) throw refused;
      return r;
    };
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= this.guard(
      new Promise<SFTPWrapper>((resolve, reject) =>
        this.client.sftp((err, s) => (err ? reject(new ConnectionError(`cannot open SFTP on ${this.host}: ${err.message}`, { host: this.host, cause: err })) : resolve(s))),
      ),
    );
    this.sftpSession.catch(() => (this.sftpSession = undefined));
    return this.sftpSession;
  }

  /** Run one SFTP call; a "no such file" answer becomes `missing`, other errors a TaskError. */
  private async sftpCall<T>(what: string, path: string, call: (s: SFTPWrapper, cb: (err: SftpError | undefined | null, v?: T) => void) => void): Promise<T> {
    const s = await this.sftp();
    return this.guard(
      new Promise<T>((resolve, reject) =>
        call(s, (err, v) => {
          if (!err) return resolve(v as T);
          const e = new TaskError(`${what} ${path} failed on ${this.host}: ${err.message}`, { host: this.host, cause: err, hint: err.code === 3 ? 'the login user lacks the rights: use become' : 'check the path on the host' });
          (e as TaskError & { sftpCode?: number }).sftpCode = err.code;
          reject(e);
        }),
      ),
    );
  }

  private becomeFor(): string | null {
    return becomeTarget(this.spec, this.spec.user);
  }

  async stat(path: string): Promise<RemoteStat | null> {
    const target = this.becomeFor();
    if (target !== null) return shellStat(this.shellRunner(target), this.host, path);
    try {
      const st = await this.sftpCall<Stats>('stat', path, (s, cb) => s.lstat(path, cb));
      const type = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
      const [owner, group] = await this.idNames(st.uid, st.gid);
      return { path, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, owner, group, size: st.size, mtimeMs: st.mtime * 1000 };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  /** uid/gid → names, looked up once per id with getent. */
  private async idNames(uid: number, gid: number): Promise<[string, string]> {
    const u = `u${uid}`;
    const g = `g${gid}`;
    if (!this.names.has(u) || !this.names.has(g)) {
      const script = 'getent passwd "$1" | cut -d: -f1; echo /; getent group "$2" | cut -d: -f1';
      const r = await this.runRaw(buildCommand(['sh', '-c', script, 'sh', String(uid), String(gid)], {}, null), null);
      const [pw = '', gr = ''] = r.stdout.toString('utf8').split('/\n');
      this.names.set(u, pw.trim() || String(uid));
      this.names.set(g, gr.trim() || String(gid));
    }
    return [this.names.get(u) ?? String(uid), this.names.get(g) ?? String(gid)];
  }

  async readFile(path: string): Promise<Buffer | null> {
    const target = this.becomeFor();
    if (target !== null) return shellReadFile(this.shellRunner(target), this.host, path);
    try {
      return await this.sftpCall<Buffer>('read', path, (s, cb) => s.readFile(path, cb));
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions): Promise<void> {
    const target = this.becomeFor();
    if (target !== null) return shellWriteAtomic(this.shellRunner(target), this.host, path, data, opts);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const tmp = tempPathFor(path);
    const mode = opts.mode & 0o7777;
    let created = false;
    try {
      // Created with the final mode (the sftp-server's umask can only narrow it), then set exactly.
      const create = (): Promise<Buffer> => this.sftpCall<Buffer>('create', tmp, (s, cb) => s.open(tmp, 'wx', { mode }, cb));
      let handle: Buffer;
      try {
        handle = await create();
      } catch (e) {
        // A run killed mid-write left this (fixed-name) temp file: unlink it (never follows a link), retry once.
        if (this.broken || !(e instanceof TaskError)) throw e;
        await this.sftpCall<void>('remove', tmp, (s, cb) => s.unlink(tmp, cb)).catch(() => undefined);
        handle = await create();
      }
      created = true;
      try {
        for (let off = 0; off < buf.length; off += 32 * 1024) {
          const len = Math.min(32 * 1024, buf.length - off);
          await this.sftpCall<void>('write', tmp, (s, cb) => s.write(handle, buf, off, len, off, cb));
        }
        await this.sftpCall<void>('chmod', tmp, (s, cb) => s.fchmod(handle, mode, cb));
        await this.sftpCall<void>('fsync', tmp, (s, cb) => s.ext_openssh_fsync(handle, (err) => cb(err)));
      } finally {
        await this.sftpCall<void>('close', tmp, (s, cb) => s.close(handle, cb)).catch(() => undefined);
      }
      const own = ownerSpec(opts);
      if (own !== null) {
        const r = await this.runRaw(buildCommand(['chown', '--', own, tmp], {}, null), null);
        if (r.exitCode !== 0) throw new TaskError(`chown ${own} ${path} failed on ${this.host}: ${r.stderr.trim()}`, { host: this.host, hint: 'changing the owner needs root: log in as root or use become' });
      }
      // posix-rename is rename(2): it replaces a symlink at `path` instead of writing through it.
      await this.sftpCall<void>('rename', path, (s, cb) => s.ext_openssh_rename(tmp, path, cb));
    } catch (e) {
      if (created && !this.broken) await this.sftpCall<void>('remove', tmp, (s, cb) => s.unlink(tmp, cb)).catch(() => undefined);
      throw e;
    }
  }

  async forwardTcp(host: string, port: number): Promise<Duplex> {
    return this.guard(
      new Promise<Duplex>((resolve, reject) =>
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, ch) =>
          err ? reject(new ConnectionError(`cannot open a tunnel from ${this.host} to ${host}:${port}: ${err.message}`, { host: this.host, cause: err })) : resolve(ch),
        ),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.broken) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.client.once('close', () => resolve()));
    this.client.end();
    await closed;
  }
}

function isMissing(e: unknown): boolean {
  return e instanceof TaskError && (e as TaskError & { sftpCode?: number }).sftpCode === SFTP_NO_SUCH_FILE;
}
