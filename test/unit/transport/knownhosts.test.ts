import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostKeyError } from '../../../src/errors.js';
import {
  checkHostKey,
  entryMatches,
  fingerprintSha256,
  hostToken,
  keyTypeOf,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  verifyHostKey,
} from '../../../src/transport/knownhosts.js';

/** Real keys from ssh-keygen, so formats and fingerprints are checked against OpenSSH itself. */
function keygen(dir: string, name: string, type = 'ed25519'): { line: string; blob: Buffer; fp: string } {
  const f = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', f]);
  const line = readFileSync(`${f}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${f}.pub`], { encoding: 'utf8' }).split(/\s+/)[1] ?? '';
  return { line, blob: Buffer.from(line.split(' ')[1] ?? '', 'base64'), fp };
}

describe('known_hosts', () => {
  let dir: string;
  let a: ReturnType<typeof keygen>;
  let b: ReturnType<typeof keygen>;
  let rsa: ReturnType<typeof keygen>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fp-kh-'));
    a = keygen(dir, 'a');
    b = keygen(dir, 'b');
    rsa = keygen(dir, 'r', 'rsa');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes hosts the way ssh does', () => {
    expect(hostToken('Host.Example', 22)).toBe('host.example');
    expect(hostToken('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('computes the OpenSSH SHA256 fingerprint and key type', () => {
    expect(fingerprintSha256(a.blob)).toBe(a.fp);
    expect(keyTypeOf(a.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(rsa.blob)).toBe('ssh-rsa');
  });

  it('parses plain entries, comments, markers and skips junk', () => {
    const text = [
      '# a comment',
      '',
      `web1,10.0.0.1 ${a.line} comment here`,
      `@revoked * ${b.line}`,
      `@cert-authority *.example ${a.line}`,
      'garbage line',
      `[db]:2222 ${rsa.line}`,
    ].join('\n');
    const e = parseKnownHosts(text);
    expect(e.map((x) => [x.line, x.marker, x.keyType])).toEqual([
      [3, null, 'ssh-ed25519'],
      [4, 'revoked', 'ssh-ed25519'],
      [5, 'cert-authority', 'ssh-ed25519'],
      [7, null, 'ssh-rsa'],
    ]);
  });

  it('matches plain, wildcard, negated and port-qualified patterns', () => {
    expect(entryMatches({ hosts: 'web1,10.0.0.1' }, '10.0.0.1', 22)).toBe(true);
    expect(entryMatches({ hosts: 'web1,10.0.0.1' }, '10.0.0.1', 2222)).toBe(false);
    expect(entryMatches({ hosts: '[10.0.0.1]:2222' }, '10.0.0.1', 2222)).toBe(true);
    expect(entryMatches({ hosts: '*.example,!bad.example' }, 'good.example', 22)).toBe(true);
    expect(entryMatches({ hosts: '*.example,!bad.example' }, 'bad.example', 22)).toBe(false);
    expect(entryMatches({ hosts: 'web?' }, 'WEB1', 22)).toBe(true);
  });

  it('matches hashed entries produced by ssh-keygen -H', () => {
    const f = join(dir, 'hashed');
    writeFileSync(f, `[127.0.0.9]:2200 ${a.line}\nplainhost ${b.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(f, 'utf8'));
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(checkHostKey(entries, '127.0.0.9', 2200, a.blob).kind).toBe('known');
    expect(checkHostKey(entries, 'plainhost', 22, b.blob).kind).toBe('known');
    expect(checkHostKey(entries, '127.0.0.9', 22, a.blob).kind).toBe('unknown');
    expect(checkHostKey(entries, '127.0.0.9', 2200, b.blob).kind).toBe('changed');
  });

  it('tells known, unknown, changed, other-type and revoked apart', () => {
    const entries = parseKnownHosts(`h1 ${a.line}\nh2 ${rsa.line}\n@revoked * ${b.line}\n`);
    expect(checkHostKey(entries, 'h1', 22, a.blob).kind).toBe('known');
    expect(checkHostKey(entries, 'h3', 22, a.blob).kind).toBe('unknown');
    expect(checkHostKey(entries, 'h1', 22, b.blob).kind).toBe('revoked');
    expect(checkHostKey(entries, 'h2', 22, a.blob).kind).toBe('other-type');
    const c = keygen(dir, 'c');
    expect(checkHostKey(entries, 'h1', 22, c.blob)).toMatchObject({ kind: 'changed', entries: [{ line: 1 }] });
  });

  it('prefers the algorithms of the known keys', () => {
    const entries = parseKnownHosts(`h2 ${rsa.line}\n`);
    expect(preferredHostKeyAlgorithms(entries, 'h2', 22)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(preferredHostKeyAlgorithms(entries, 'h9', 22)).toEqual([]);
  });

  it('refuses a changed key with both fingerprints and the line to remove', () => {
    const f = join(dir, 'kh-changed');
    writeFileSync(f, `# header\n[10.1.1.1]:2222 ${a.line}\n`);
    const t = { host: 'web1', address: '10.1.1.1', port: 2222, knownHostsFile: f, acceptUnknownHostKey: true };
    let err: unknown;
    try {
      verifyHostKey(t, b.blob);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HostKeyError);
    const msg = (err as HostKeyError).userMessage();
    expect(msg).toContain(b.fp);
    expect(msg).toContain(`${f}:2`);
    expect(msg).toContain(a.fp);
    expect(msg).toContain(`ssh-keygen -R '[10.1.1.1]:2222' -f ${f}`);
    expect(readFileSync(f, 'utf8')).toBe(`# header\n[10.1.1.1]:2222 ${a.line}\n`);
  });

  it('refuses an unknown key unless opted in, then records it so ssh accepts it too', () => {
    const f = join(dir, 'kh-new');
    writeFileSync(f, `other ${b.line}`); // no trailing newline
    const t = { host: 'web1', address: '127.0.0.7', port: 2022, knownHostsFile: f, acceptUnknownHostKey: false };
    expect(() => verifyHostKey(t, a.blob)).toThrow(HostKeyError);
    verifyHostKey({ ...t, acceptUnknownHostKey: true }, a.blob);
    expect(readFileSync(f, 'utf8')).toBe(`other ${b.line}\n[127.0.0.7]:2022 ${a.line}\n`);
    // OpenSSH finds the recorded entry.
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.7]:2022', '-f', f], { encoding: 'utf8' });
    expect(found).toContain(a.line);
    expect(() => verifyHostKey(t, a.blob)).not.toThrow();
  });
});
