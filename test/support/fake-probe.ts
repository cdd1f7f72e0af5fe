/**
 * A fake host for unit tests: an in-memory filesystem with owners, modes and symlinks, plus
 * scripted exec results. It implements Connection, so the same object serves as a plan's Probe
 * and as the connection call steps get. A few commands the task modules plan (cp, ln, rmdir, find,
 * touch, readlink, the backup glob script) are emulated on the in-memory filesystem; anything else
 * must be scripted with `on()`, or it exits 127 like a missing program.
 */
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import type { CommandResult, Connection, ExecOptions, RemoteStat, WriteOptions } from '../../src/transport/types.js';

export interface FakeNode {
  type: 'file' | 'directory' | 'symlink';
  content: Buffer;
  target: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}

export interface NodeOpts {
  mode?: number;
  uid?: number;
  gid?: number;
  mtimeMs?: number;
}

type ExecResult = Partial<Pick<CommandResult, 'exitCode' | 'stdout' | 'stderr'>>;
type Script = { match: (argv: readonly string[]) => boolean; result: (argv: readonly string[]) => ExecResult };

const USERS: ReadonlyArray<[number, string]> = [
  [0, 'root'],
  [26, 'postgres'],
  [1000, 'enterprisedb'],
];

export class FakeHost implements Connection {
  readonly kind = 'local' as const;
  readonly fs = new Map<string, FakeNode>();
  readonly execLog: string[][] = [];
  private readonly scripts: Script[] = [];
  private clock = 1_700_000_000_000;

  constructor(readonly host = 'h1') {
    this.fs.set('/', this.node('directory', { mode: 0o755 }));
    this.dir('/var/backups');
  }

  private node(type: FakeNode['type'], o: NodeOpts = {}, content = Buffer.alloc(0), target = ''): FakeNode {
    return { type, content, target, mode: o.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: o.uid ?? 0, gid: o.gid ?? 0, mtimeMs: o.mtimeMs ?? this.clock++ };
  }

  // ---- setup helpers -------------------------------------------------------------------------

  dir(path: string, o: NodeOpts = {}): this {
    const p = posix.normalize(path);
    if (p !== '/') this.dir(posix.dirname(p));
    const cur = this.fs.get(p);
    if (cur === undefined) this.fs.set(p, this.node('directory', o));
    else if (o.mode !== undefined || o.uid !== undefined) Object.assign(cur, { mode: o.mode ?? cur.mode, uid: o.uid ?? cur.uid, gid: o.gid ?? cur.gid });
    return this;
  }

  file(path: string, content: string | Buffer, o: NodeOpts = {}): this {
    const p = posix.normalize(path);
    this.dir(posix.dirname(p));
    this.fs.set(p, this.node('file', o, Buffer.from(content)));
    return this;
  }

  link(path: string, target: string): this {
    const p = posix.normalize(path);
    this.dir(posix.dirname(p));
    this.fs.set(p, this.node('symlink', { mode: 0o777 }, Buffer.alloc(0), target));
    return this;
  }

  /** Script an exec: `match` is an argv prefix or a predicate. Later scripts win. */
  on(match: readonly string[] | ((argv: readonly string[]) => boolean), result: ExecResult | ((argv: readonly string[]) => ExecResult)): this {
    const m = typeof match === 'function' ? match : (argv: readonly string[]) => match.every((x, i) => argv[i] === x);
    this.scripts.unshift({ match: m, result: typeof result === 'function' ? result : () => result });
    return this;
  }

  content(path: string): string | null {
    const n = this.fs.get(posix.normalize(path));
    return n?.type === 'file' ? n.content.toString('utf8') : null;
  }

  /** A deep copy of the filesystem, for "back byte for byte" comparisons (mtime and run backups left out). */
  snapshot(exceptUnder = '/var/backups/'): Record<string, { type: string; content: string; target: string; mode: number; uid: number; gid: number }> {
    const out: Record<string, { type: string; content: string; target: string; mode: number; uid: number; gid: number }> = {};
    for (const [p, n] of [...this.fs.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      if (p.startsWith(exceptUnder)) continue;
      out[p] = { type: n.type, content: n.content.toString('base64'), target: n.target, mode: n.mode, uid: n.uid, gid: n.gid };
    }
    return out;
  }

  userId(nameOrId: string): number {
    if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
    const hit = USERS.find(([, n]) => n === nameOrId);
    if (hit === undefined) throw new Error(`fake: unknown user ${nameOrId}`);
    return hit[0];
  }

  userName(id: number): string {
    return USERS.find(([i]) => i === id)?.[1] ?? '';
  }

  // ---- filesystem primitives used by exec emulation and the step interpreter ------------------

  /** Follow symlinks to the final path. */
  resolve(path: string, depth = 0): string {
    const p = posix.normalize(path);
    const n = this.fs.get(p);
    if (n?.type === 'symlink' && depth < 20) return this.resolve(posix.resolve(posix.dirname(p), n.target), depth + 1);
    return p;
  }

  requireParent(path: string): void {
    const parent = this.fs.get(this.resolve(posix.dirname(posix.normalize(path))));
    if (parent?.type !== 'directory') throw new Error(`fake: ${posix.dirname(path)}: no such directory`);
  }

  put(path: string, n: FakeNode): void {
    this.requireParent(path);
    this.fs.set(posix.normalize(path), n);
  }

  /** Move path (and everything under it) to a new path. */
  move(from: string, to: string): void {
    const f = posix.normalize(from);
    const t = posix.normalize(to);
    const n = this.fs.get(f);
    if (n === undefined) throw new Error(`fake: rename ${from}: no such file`);
    this.requireParent(t);
    const tn = this.fs.get(t);
    if (tn?.type === 'directory' && n.type !== 'directory') throw new Error(`fake: rename onto directory ${to}`);
    for (const k of [...this.fs.keys()]) if (k === t || k.startsWith(`${t}/`)) this.fs.delete(k);
    for (const [k, v] of [...this.fs.entries()]) {
      if (k === f || k.startsWith(`${f}/`)) {
        this.fs.delete(k);
        this.fs.set(t + k.slice(f.length), v);
      }
    }
  }

  /** Copy a tree (cp -a / cp -p). */
  copy(from: string, to: string): void {
    const f = posix.normalize(from);
    const t = posix.normalize(to);
    const n = this.fs.get(f);
    if (n === undefined) throw new Error(`fake: cp ${from}: no such file`);
    this.requireParent(t);
    for (const [k, v] of [...this.fs.entries()]) {
      if (k === f || k.startsWith(`${f}/`)) this.fs.set(t + k.slice(f.length), { ...v, content: Buffer.from(v.content) });
    }
  }

  children(path: string): string[] {
    const p = posix.normalize(path);
    const prefix = p === '/' ? '/' : `${p}/`;
    return [...this.fs.keys()].filter((k) => k !== p && k.startsWith(prefix)).sort();
  }

  remove(path: string, recursive: boolean): void {
    const p = posix.normalize(path);
    const n = this.fs.get(p);
    if (n === undefined) return;
    if (n.type === 'directory' && !recursive && this.children(p).length > 0) throw new Error(`fake: ${path}: directory not empty`);
    for (const k of this.children(p)) this.fs.delete(k);
    this.fs.delete(p);
  }

  // ---- Connection -----------------------------------------------------------------------------

  async stat(path: string): Promise<RemoteStat | null> {
    const p = posix.normalize(path);
    const n = this.fs.get(p);
    if (n === undefined) return null;
    return { path: p, type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, owner: this.userName(n.uid), group: this.userName(n.gid), size: n.content.length, mtimeMs: n.mtimeMs };
  }

  async readFile(path: string): Promise<Buffer | null> {
    const n = this.fs.get(this.resolve(path));
    return n?.type === 'file' ? Buffer.from(n.content) : null;
  }

  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions): Promise<void> {
    const p = posix.normalize(path);
    const prev = this.fs.get(p);
    const uid = opts.owner !== undefined ? this.userId(opts.owner) : 0;
    const gid = opts.group !== undefined ? this.userId(opts.group) : 0;
    if (prev?.type === 'directory') throw new Error(`fake: ${path} is a directory`);
    this.put(p, this.node('file', { mode: opts.mode, uid, gid }, Buffer.from(data)));
  }

  async forwardTcp(): Promise<Duplex> {
    throw new Error('fake: forwardTcp is not supported');
  }

  async close(): Promise<void> {}

  async exec(argv: readonly string[], _opts: ExecOptions = {}): Promise<CommandResult> {
    this.execLog.push([...argv]);
    const done = (r: ExecResult): CommandResult => ({ argv, exitCode: r.exitCode ?? 0, signal: null, stdout: r.stdout ?? '', stderr: r.stderr ?? '', durationMs: 1 });
    const script = this.scripts.find((s) => s.match(argv));
    if (script !== undefined) return done(script.result(argv));
    try {
      return done(this.builtin(argv));
    } catch (e) {
      return done({ exitCode: 1, stderr: (e as Error).message });
    }
  }

  private builtin(argv: readonly string[]): ExecResult {
    const args = argv.filter((a) => a !== '--');
    const [cmd] = args;
    switch (cmd) {
      case 'readlink': {
        const n = this.fs.get(posix.normalize(args[1] ?? ''));
        return n?.type === 'symlink' ? { stdout: `${n.target}\n` } : { exitCode: 1 };
      }
      case 'cp':
        this.copy(args[2] ?? '', args[3] ?? '');
        return {};
      case 'ln': {
        const [, , target, path] = args;
        this.put(path ?? '', this.node('symlink', { mode: 0o777 }, Buffer.alloc(0), target ?? ''));
        return {};
      }
      case 'rmdir': {
        const p = args[1] ?? '';
        if (this.fs.get(posix.normalize(p))?.type !== 'directory') throw new Error(`rmdir: ${p}: not a directory`);
        this.remove(p, false);
        return {};
      }
      case 'mkdir': {
        this.dir(args[args.length - 1] ?? '');
        return {};
      }
      case 'touch': {
        const p = args[args.length - 1] ?? '';
        const n = this.fs.get(this.resolve(p));
        const at = args.indexOf('-d');
        const when = at >= 0 ? Number((args[at + 1] ?? '@0').slice(1)) * 1000 : this.clock++;
        if (n === undefined) this.put(p, this.node('file', { mtimeMs: when }));
        else n.mtimeMs = when;
        return {};
      }
      case 'find':
        return this.find(args);
      case 'sh':
        if (args[1] === '-c' && (args[2] ?? '').startsWith('IFS=; for p in "$@"')) return this.glob(args.slice(4));
        break;
      case 'true':
        return {};
      case 'false':
        return { exitCode: 1 };
    }
    return { exitCode: 127, stderr: `${cmd ?? ''}: command not found` };
  }

  private find(args: readonly string[]): ExecResult {
    const dir = posix.normalize(args[1] ?? '/');
    if (this.fs.get(dir) === undefined) return { exitCode: 1, stderr: `find: ${dir}: No such file or directory` };
    const kids = this.children(dir);
    if (args.includes('-quit')) return { stdout: kids[0] === undefined ? '' : `${kids[0]}\n` };
    const recs = kids.map((k) => {
      const n = this.fs.get(k) as FakeNode;
      const y = n.type === 'directory' ? 'd' : n.type === 'file' ? 'f' : 'l';
      return [n.mode.toString(8), n.uid, n.gid, this.userName(n.uid), this.userName(n.gid), y, k].join('\t');
    });
    return { stdout: recs.map((r) => `${r}\0`).join('') };
  }

  private glob(patterns: readonly string[]): ExecResult {
    const out: string[] = [];
    for (const p of patterns) {
      if (!/[*?[]/.test(p)) {
        if (this.fs.has(posix.normalize(p))) out.push(p);
        continue;
      }
      const re = new RegExp(`^${p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
      out.push(...[...this.fs.keys()].filter((k) => re.test(k)).sort());
    }
    return { stdout: out.map((f) => `${f}\0`).join('') };
  }
}
