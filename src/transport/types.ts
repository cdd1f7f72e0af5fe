/**
 * The Connection interface: everything the runner does on a host goes through one of these.
 * `exec` never throws for a non-zero exit (the result carries it); it throws `ConnectionError`
 * only when the transport itself fails (connection lost, timeout, auth).
 */
import type { Duplex } from 'node:stream';

/** How to reach and log in to a host; built from inventory vars by the runner. */
export interface ConnectionSpec {
  /** Inventory name of the host. */
  name: string;
  /** `local` runs on the controller; `ssh` connects with ssh2. */
  kind: 'ssh' | 'local';
  address: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  /** Name of the environment variable holding the key's passphrase. */
  privateKeyPassphraseEnv?: string;
  /** Name of the environment variable holding a login password (never the password itself). */
  passwordEnv?: string;
  /** Use ssh-agent at $SSH_AUTH_SOCK. */
  useAgent?: boolean;
  become: boolean;
  becomeUser: string;
  knownHostsFile: string;
  /** Accept and record an unknown host key (never a changed one). */
  acceptUnknownHostKey: boolean;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  /** Run through become (sudo -n -u becomeUser) if the connection has become enabled. Default true. */
  become?: boolean;
  /** Override the user to become for this command (e.g. the database OS user). */
  becomeUser?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One result shape for success and failure. */
export interface CommandResult {
  argv: readonly string[];
  exitCode: number;
  /** Signal name when the remote process was killed by a signal. */
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

/** lstat of a remote path (a symlink is reported as a symlink, never followed). */
export interface RemoteStat {
  path: string;
  type: FileType;
  /** Permission bits only, e.g. 0o600. */
  mode: number;
  uid: number;
  gid: number;
  owner: string;
  group: string;
  size: number;
  mtimeMs: number;
}

export interface WriteOptions {
  /** Final mode; the temp file is created with it (0600 keys are never readable by others). */
  mode: number;
  /** User name or numeric id; default: unchanged (the login/become user). */
  owner?: string;
  group?: string;
}

export interface Connection {
  /** Inventory name. */
  readonly host: string;
  readonly kind: 'ssh' | 'local';
  exec(argv: readonly string[], opts?: ExecOptions): Promise<CommandResult>;
  /** lstat; null when the path does not exist. */
  stat(path: string): Promise<RemoteStat | null>;
  /** The file's bytes; null when it does not exist. Refuses to follow a symlink? No: reads its target. */
  readFile(path: string): Promise<Buffer | null>;
  /**
   * Atomic write: a temp file in the same directory created with the final mode, owner/group set,
   * fsynced, then renamed over `path`. A symlink at `path` is replaced, never written through.
   */
  writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions): Promise<void>;
  /** A TCP stream to host:port as seen from the remote host (SSH direct-tcpip), for tunnels. */
  forwardTcp(host: string, port: number): Promise<Duplex>;
  close(): Promise<void>;
}

/** The read-only view of a host that `plan()` gets. */
export type Probe = Pick<Connection, 'host' | 'exec' | 'stat' | 'readFile'>;

/**
 * The temp file an atomic write uses: fixed per target (not random), so rollback can remove one left
 * behind by a run that died mid-write. Two writes of one file never overlap: a host is locked by one
 * run, and a run writes a file from one task at a time.
 */
export function atomicTempPath(path: string): string {
  const slash = path.lastIndexOf('/');
  const dir = slash >= 0 ? path.slice(0, slash + 1) : '';
  return `${dir}.${path.slice(slash + 1)}.fleetplay-write.tmp`;
}
