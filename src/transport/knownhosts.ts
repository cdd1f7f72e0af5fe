/**
 * Host key checking against an OpenSSH known_hosts file, the way `ssh` does with
 * StrictHostKeyChecking: plain and hashed (`|1|salt|hash`) host fields, `[host]:port` for ports
 * other than 22, wildcard and negated patterns, several key types per host, comments. `@revoked`
 * keys are refused; `@cert-authority` lines are skipped (certificates are not supported).
 * An unknown key is refused unless the caller opts in (then it is appended); a changed key is
 * always refused, with both fingerprints and the line to remove.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostKeyError } from '../errors.js';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker: 'revoked' | 'cert-authority' | null;
  /** The host field as written: `a,b,[c]:2222` or `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { kind: 'known'; entry: KnownHostEntry }
  | { kind: 'unknown' }
  | { kind: 'revoked'; entry: KnownHostEntry }
  /** Keys of this type are known for the host, none is the offered one. */
  | { kind: 'changed'; entries: KnownHostEntry[] }
  /** The host is known, but only with keys of other types. */
  | { kind: 'other-type'; entries: KnownHostEntry[] };

/** Parse known_hosts text; malformed lines are skipped, as ssh does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0].startsWith('@')) {
      if (fields[0] === '@revoked') marker = 'revoked';
      else if (fields[0] === '@cert-authority') marker = 'cert-authority';
      else return;
      fields.shift();
    }
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) return;
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0 || keyTypeOf(key) !== keyType) return;
    out.push({ line: i + 1, marker, hosts, keyType, key });
  });
  return out;
}

/** How a host is written in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function hostToken(address: string, port: number): string {
  const h = address.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  if (len > blob.length - 4) return '';
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint: `SHA256:` + base64 of the blob's digest, without padding. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The line `ssh` would add for this host and key. */
export function knownHostLine(address: string, port: number, blob: Buffer): string {
  return `${hostToken(address, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** Does the entry's host field name this host? (A negated pattern that matches vetoes the entry.) */
export function entryMatches(entry: Pick<KnownHostEntry, 'hosts'>, address: string, port: number): boolean {
  const token = hostToken(address, port);
  if (entry.hosts.startsWith('|1|')) {
    const [, , salt, hash] = entry.hosts.split('|');
    if (salt === undefined || hash === undefined) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(token).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const pat of entry.hosts.split(',')) {
    const negated = pat.startsWith('!');
    const re = globToRegExp(negated ? pat.slice(1) : pat);
    if (re.test(token)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Judge an offered host key against parsed known_hosts entries. */
export function checkHostKey(entries: readonly KnownHostEntry[], address: string, port: number, blob: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => entryMatches(e, address, port));
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(blob));
  if (revoked) return { kind: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === null);
  const exact = plain.find((e) => e.key.equals(blob));
  if (exact) return { kind: 'known', entry: exact };
  const sameType = plain.filter((e) => e.keyType === keyTypeOf(blob));
  if (sameType.length > 0) return { kind: 'changed', entries: sameType };
  if (plain.length > 0) return { kind: 'other-type', entries: plain };
  return { kind: 'unknown' };
}

const ALGORITHMS_FOR_TYPE: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** Host key algorithms to prefer for this host: those of its known keys (as ssh orders them). */
export function preferredHostKeyAlgorithms(entries: readonly KnownHostEntry[], address: string, port: number): string[] {
  const types = entries.filter((e) => e.marker === null && entryMatches(e, address, port)).map((e) => e.keyType);
  return [...new Set(types.flatMap((t) => ALGORITHMS_FOR_TYPE[t] ?? [t]))];
}

export function readKnownHosts(file: string): KnownHostEntry[] {
  if (!existsSync(file)) return [];
  try {
    return parseKnownHosts(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new HostKeyError(`cannot read known_hosts file ${file}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      hint: 'point known_hosts_file at a readable file',
    });
  }
}

export interface VerifyTarget {
  /** Inventory name, for the error. */
  host: string;
  address: string;
  port: number;
  knownHostsFile: string;
  acceptUnknownHostKey: boolean;
}

/** Accept the key or throw HostKeyError; records an unknown key when the target opts in. */
export function verifyHostKey(t: VerifyTarget, blob: Buffer): void {
  const entries = readKnownHosts(t.knownHostsFile);
  const v = checkHostKey(entries, t.address, t.port, blob);
  const where = hostToken(t.address, t.port);
  const offered = `${keyTypeOf(blob)} ${fingerprintSha256(blob)}`;
  switch (v.kind) {
    case 'known':
      return;
    case 'unknown': {
      if (!t.acceptUnknownHostKey) {
        throw new HostKeyError(`unknown host key for ${where}: ${offered}, not in ${t.knownHostsFile}`, {
          host: t.host,
          hint: `check the fingerprint, then add it (ssh-keyscan -p ${t.port} ${t.address} >> ${t.knownHostsFile}) or pass --accept-new-host-keys to accept and record it`,
        });
      }
      const prefix = existsSync(t.knownHostsFile) && !readFileSync(t.knownHostsFile, 'utf8').match(/(^|\n)$/) ? '\n' : '';
      try {
        // a fresh controller may have no ~/.ssh yet; ssh creates it 0700 too
        mkdirSync(dirname(t.knownHostsFile), { recursive: true, mode: 0o700 });
        appendFileSync(t.knownHostsFile, `${prefix}${knownHostLine(t.address, t.port, blob)}\n`, { mode: 0o600 });
      } catch (e) {
        throw new HostKeyError(`cannot record the host key for ${where} in ${t.knownHostsFile}: ${e instanceof Error ? e.message : String(e)}`, {
          host: t.host,
          cause: e,
          hint: 'make the known_hosts file (and its directory) writable, or point known_hosts_file elsewhere',
        });
      }
      return;
    }
    case 'revoked':
      throw new HostKeyError(`host key for ${where} is revoked: ${offered} (${t.knownHostsFile}:${v.entry.line})`, {
        host: t.host,
        hint: 'the server presents a key marked @revoked; do not connect until the host is re-keyed',
      });
    case 'changed':
    case 'other-type': {
      const lines = v.entries.map((e) => `${t.knownHostsFile}:${e.line} (${e.keyType} ${fingerprintSha256(e.key)})`);
      const what = v.kind === 'changed' ? 'has CHANGED' : 'does not match: only other key types are known';
      throw new HostKeyError(`host key for ${where} ${what}: server offers ${offered}; known: ${lines.join(', ')}`, {
        host: t.host,
        hint: `if the host was re-keyed on purpose, remove ${v.entries.length === 1 ? 'that line' : 'those lines'} (ssh-keygen -R '${where}' -f ${t.knownHostsFile}) and connect again; otherwise someone may be intercepting the connection`,
      });
    }
  }
}
